"""How the CLI splits image references (berth.cli.imageref)."""

from __future__ import annotations

from berth.cli.imageref import split_ref


def test_tags_digests_and_registry_ports() -> None:
    assert split_ref("busybox") == ("busybox", None)
    assert split_ref("busybox:1.36") == ("busybox", "1.36")
    assert split_ref("127.0.0.1:5000/demo/busybox") == ("127.0.0.1:5000/demo/busybox", None)
    assert split_ref("127.0.0.1:5000/demo/busybox:1") == ("127.0.0.1:5000/demo/busybox", "1")
    assert split_ref("busybox@sha256:" + "a" * 64) == ("busybox", "sha256:" + "a" * 64)
