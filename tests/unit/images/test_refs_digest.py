"""References (Docker's normalization and error texts) and digest / chain id math."""

from __future__ import annotations

import hashlib

import pytest

from berth import errdefs
from berth.daemon.images import refs
from berth.oci import digest


@pytest.mark.parametrize(
    ("given", "normalized", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/foo/bar", "docker.io/foo/bar:latest", "foo/bar:latest"),
        ("foo/bar:v1", "docker.io/foo/bar:v1", "foo/bar:v1"),
        ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
        ("127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t"),
        ("registry.example.com/team/app", "registry.example.com/team/app:latest",
         "registry.example.com/team/app:latest"),
    ],
)
def test_normalize_and_familiar(given: str, normalized: str, familiar: str) -> None:
    assert refs.normalize(given) == normalized
    assert refs.familiar(normalized) == familiar


def test_digest_reference_gets_no_default_tag() -> None:
    d = "sha256:" + "a" * 64
    assert refs.normalize(f"busybox@{d}") == f"docker.io/library/busybox@{d}"
    assert refs.familiar(f"docker.io/library/busybox@{d}") == f"busybox@{d}"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
        ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
        ("busybox:", "invalid reference format"),
        ("-bad", "invalid reference format"),
        ("busy box", "invalid reference format"),
        ("busybox@sha256:zz", "invalid reference format"),
    ],
)
def test_invalid_references_use_dockers_texts(given: str, message: str) -> None:
    with pytest.raises(errdefs.InvalidParameter) as exc:
        refs.parse(given)
    assert str(exc.value) == message


def test_parse_tag_rejects_digests_and_bad_tags() -> None:
    assert str(refs.parse_tag("busybox", "")) == "docker.io/library/busybox:latest"
    assert str(refs.parse_tag("busybox", "v2")) == "docker.io/library/busybox:v2"
    with pytest.raises(errdefs.InvalidParameter, match="invalid tag format"):
        refs.parse_tag("busybox", "bad tag")
    with pytest.raises(errdefs.InvalidParameter, match="refusing to create a tag with a digest reference"):
        refs.parse_tag("busybox@sha256:" + "b" * 64, "")


def test_chain_ids_follow_the_image_spec() -> None:
    d0 = digest.sha256(b"layer0")
    d1 = digest.sha256(b"layer1")
    d2 = digest.sha256(b"layer2")
    c1 = "sha256:" + hashlib.sha256(f"{d0} {d1}".encode()).hexdigest()
    c2 = "sha256:" + hashlib.sha256(f"{c1} {d2}".encode()).hexdigest()
    assert digest.chain_ids([d0, d1, d2]) == [d0, c1, c2]
    assert digest.chain_id(None, d0) == d0


def test_digest_validation_refuses_path_tricks() -> None:
    assert digest.is_digest("sha256:" + "0" * 64)
    for bad in ("sha256:../../etc/passwd", "sha256:" + "A" * 64, "md5:" + "0" * 32, "sha256:" + "0" * 63):
        assert not digest.is_digest(bad)
        with pytest.raises(ValueError, match="invalid digest"):
            digest.hex_of(bad)
    assert digest.short_id("sha256:" + "0123456789ab" + "f" * 52) == "0123456789ab"
