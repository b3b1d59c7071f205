"""Archives written by `berth save` and by `docker save` through berthd are docker-archive tars skopeo reads
(inspect, copy to an OCI layout), and `berth load` of them round-trips; a tar skopeo writes loads too."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.daemon_harness import Daemon, ok

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")]


def skopeo(*args: str) -> str:
    res = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, timeout=120)
    return ok(res)


@pytest.fixture(scope="module")
def two_layers(berthd: Daemon) -> str:
    """An image of two layers: busybox and a committed change."""
    name = f"skop/two-{uuid.uuid4().hex[:6]}:1"
    box = f"skop-{uuid.uuid4().hex[:8]}"
    ok(berthd.docker("run", "--name", box, "busybox:latest", "sh", "-c", "echo added > /added.txt", timeout=120))
    try:
        ok(berthd.docker("commit", box, name))
    finally:
        berthd.docker("rm", "-f", box)
    return name


def _layers(berthd: Daemon, ref: str) -> tuple[str, list[str]]:
    doc = json.loads(ok(berthd.docker("image", "inspect", ref)))[0]
    return str(doc["Id"]), list(doc["RootFS"]["Layers"])


@pytest.mark.parametrize("writer", ["berth", "docker"])
def test_saved_tar_is_a_docker_archive_for_skopeo_and_loads_back(berthd: Daemon, two_layers: str, writer: str,
                                                                   tmp_path: Path) -> None:
    image_id, diff_ids = _layers(berthd, two_layers)
    assert len(diff_ids) == 2
    archive = tmp_path / "saved.tar"
    save = berthd.berth if writer == "berth" else berthd.docker
    ok(save("save", "-o", str(archive), two_layers, timeout=120))

    info = json.loads(skopeo("inspect", f"docker-archive:{archive}"))
    assert info["Layers"] == diff_ids  # uncompressed layers: their digests are the diff ids
    assert info["Os"] == "linux"
    config = json.loads(skopeo("inspect", "--config", f"docker-archive:{archive}"))
    assert config["rootfs"]["diff_ids"] == diff_ids
    layout = tmp_path / "layout"
    skopeo("copy", f"docker-archive:{archive}", f"oci:{layout}:copied")
    index = json.loads((layout / "index.json").read_text())
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] == ["copied"]

    ok(berthd.docker("rmi", two_layers))
    try:
        out = ok(berthd.berth("load", "-i", str(archive), timeout=120))
        assert f"Loaded image: {two_layers}" in out
        assert _layers(berthd, two_layers) == (image_id, diff_ids)
        assert ok(berthd.docker("run", "--rm", two_layers, "cat", "/added.txt", timeout=120)) == "added\n"
    finally:
        berthd.berth("load", "-i", str(archive), timeout=120)  # the next test needs the image back


def test_a_tar_written_by_skopeo_loads(berthd: Daemon, two_layers: str, tmp_path: Path) -> None:
    image_id, diff_ids = _layers(berthd, two_layers)
    saved = tmp_path / "saved.tar"
    ok(berthd.berth("save", "-o", str(saved), two_layers, timeout=120))
    written = tmp_path / "by-skopeo.tar"
    other = f"skop/copied-{uuid.uuid4().hex[:6]}:2"
    skopeo("copy", f"docker-archive:{saved}", f"docker-archive:{written}:{other}")
    try:
        assert f"Loaded image: {other}" in ok(berthd.berth("load", "-i", str(written), timeout=120))
        assert _layers(berthd, other) == (image_id, diff_ids)
    finally:
        berthd.docker("rmi", other)
