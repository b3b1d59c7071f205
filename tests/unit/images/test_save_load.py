"""`docker save` archives (Docker 25 layout) and `docker load` of Docker and OCI archives."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth import errdefs
from berth.daemon.images.service import ImagesService
from berth.oci import digest as dg
from berth.store.content import ContentStore
from berth.store.metadata import MetadataStore
from tests.unit.images.conftest import HashOnlySnapshotter, make_tar

TAR = make_tar({"bin/tool": b"#!/bin/sh\n", "etc/x": b"x"})


@pytest.fixture
def other(tmp_path: Path) -> Iterator[ImagesService]:
    root = tmp_path / "other"
    meta = MetadataStore(str(root.with_suffix(".db")))
    try:
        yield ImagesService(ContentStore(str(root / "content")), meta, HashOnlySnapshotter(str(root / "snap"), meta))
    finally:
        meta.close()


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


def read(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


def test_save_writes_the_docker_25_layout(svc: ImagesService) -> None:
    iid = svc.import_image(io.BytesIO(TAR), "busybox", "", ["CMD sh"])
    diff = svc.get(iid).diff_ids[0]
    data = b"".join(svc.save(["busybox"]))
    got = members(data)
    assert {"oci-layout", "index.json", "manifest.json", "repositories", f"blobs/sha256/{iid[7:]}",
            f"blobs/sha256/{diff[7:]}"} <= set(got)
    assert all(m.mtime == 0 for m in got.values())
    manifest = json.loads(read(data, "manifest.json"))
    assert manifest == [{"Config": f"blobs/sha256/{iid[7:]}", "RepoTags": ["busybox:latest"],
                         "Layers": [f"blobs/sha256/{diff[7:]}"]}]
    assert json.loads(read(data, "repositories")) == {"busybox": {"latest": diff[7:]}}
    index = json.loads(read(data, "index.json"))
    [desc] = index["manifests"]
    assert desc["annotations"] == {"io.containerd.image.name": "docker.io/library/busybox:latest",
                                   "org.opencontainers.image.ref.name": "latest"}
    oci_manifest = read(data, f"blobs/sha256/{desc['digest'][7:]}")
    assert dg.sha256(oci_manifest) == desc["digest"]
    assert json.loads(oci_manifest)["config"]["digest"] == iid
    assert read(data, f"blobs/sha256/{diff[7:]}") == TAR


def test_save_of_a_missing_image_fails_before_streaming(svc: ImagesService) -> None:
    with pytest.raises(errdefs.NotFound, match="No such image: nope:latest"):
        svc.save(["nope"])


def test_save_then_load_into_another_root(svc: ImagesService, other: ImagesService) -> None:
    iid = svc.import_image(io.BytesIO(TAR), "foo/bar", "1", ["ENV A=1"])
    untagged = svc.import_image(io.BytesIO(TAR), "", "", ["ENV B=2"])
    data = b"".join(svc.save(["foo/bar:1", untagged]))
    lines = other.load(io.BytesIO(gzip.compress(data)))
    assert lines == ["Loaded image: foo/bar:1", f"Loaded image ID: {untagged}"]
    assert other.get("foo/bar:1").id == iid
    assert other.inspect(iid)["Config"]["Env"] == ["A=1"]
    assert len([s for s in other.meta.snapshots() if s.kind == "committed"]) == 1
    # loading again changes nothing and reports the same
    assert other.load(io.BytesIO(data)) == lines


def _oci_layout(layer: bytes, config: bytes, diff_id: str, name: str) -> bytes:
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dg.sha256(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dg.sha256(layer),
                    "size": len(layer)}],
    }).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": dg.sha256(manifest),
        "size": len(manifest), "annotations": {"io.containerd.image.name": name}}]}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for arc, blob in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index),
                          (f"blobs/sha256/{dg.sha256(manifest)[7:]}", manifest),
                          (f"blobs/sha256/{dg.sha256(config)[7:]}", config),
                          (f"blobs/sha256/{dg.sha256(layer)[7:]}", layer)):
            info = tarfile.TarInfo(arc)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def test_load_of_a_plain_oci_layout_with_a_gzip_layer(other: ImagesService) -> None:
    diff = dg.sha256(TAR)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff]},
                         "created": "2024-01-02T03:04:05Z"}).encode()
    data = _oci_layout(gzip.compress(TAR), config, diff, "docker.io/library/oci:v1")
    assert other.load(io.BytesIO(data)) == ["Loaded image: oci:v1"]
    img = other.get("oci:v1")
    assert img.id == dg.sha256(config)
    assert img.diff_ids == [diff]
    assert other.content.read_bytes(diff) == TAR
    assert other.list()[0]["Created"] == 1704164645


def _assert_nothing_stored(images: ImagesService) -> None:
    assert images.list() == []
    assert images.meta.snapshots() == []
    assert list(images.content.walk()) == []
    assert os.listdir(images.tmp_root) == []


def test_load_refuses_wrong_diff_ids_and_leaves_nothing(other: ImagesService) -> None:
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [dg.sha256(b"other")]}}).encode()
    data = _oci_layout(gzip.compress(TAR), config, "", "docker.io/library/bad:1")
    with pytest.raises(errdefs.InvalidParameter, match="invalid diffID"):
        other.load(io.BytesIO(data))
    _assert_nothing_stored(other)


def test_a_plain_layer_unpacked_early_is_dropped_when_its_diff_id_is_wrong(other: ImagesService) -> None:
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [dg.sha256(b"other")]}}).encode()
    data = _oci_layout(TAR, config, "", "docker.io/library/bad:2")
    with pytest.raises(errdefs.InvalidParameter, match="invalid diffID"):
        other.load(io.BytesIO(data))
    _assert_nothing_stored(other)
    assert os.listdir(other.content.ingest_dir) == []
    assert [n for n in os.listdir(other.snapshots.root) if n.startswith("ingest-")] == []


@pytest.mark.parametrize("igzip", ["0", "1"])
def test_a_corrupt_gzip_layer_is_refused_and_leaves_nothing(other: ImagesService, igzip: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_DISABLE_IGZIP", "1" if igzip == "0" else "0")
    good = gzip.compress(TAR)
    bad = good[:40] + bytes(reversed(good[40:-8])) + good[-8:]
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [dg.sha256(TAR)]}}).encode()
    with pytest.raises(errdefs.InvalidParameter):
        other.load(io.BytesIO(_oci_layout(bad, config, "", "docker.io/library/bad:3")))
    assert other.list() == []
    assert other.meta.snapshots() == []
    assert list(other.content.walk()) == []
    assert os.listdir(other.content.ingest_dir) == []
    assert [n for n in os.listdir(other.snapshots.root) if n.startswith("ingest-")] == []


def test_load_refuses_paths_outside_the_archive(other: ImagesService) -> None:
    manifest = json.dumps([{"Config": "../../../etc/passwd", "RepoTags": ["x:1"], "Layers": []}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        link = tarfile.TarInfo("evil")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(errdefs.InvalidParameter, match="outside of the archive"):
        other.load(io.BytesIO(buf.getvalue()))
    assert other.list() == []


def test_load_of_a_legacy_archive_with_linked_layers(other: ImagesService) -> None:
    diff = dg.sha256(TAR)
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [diff, diff]}, "created": "2020-01-01T00:00:00Z",
                         "config": {"Cmd": ["sh"]}}).encode()
    manifest = json.dumps([{"Config": f"{dg.sha256(config)[7:]}.json", "RepoTags": ["legacy:old"],
                            "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for arc, blob in ((f"{dg.sha256(config)[7:]}.json", config), ("aaa/layer.tar", TAR),
                          ("aaa/VERSION", b"1.0"), ("manifest.json", manifest)):
            info = tarfile.TarInfo(arc)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        link = tarfile.TarInfo("bbb/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../aaa/layer.tar"
        tar.addfile(link)
    assert other.load(io.BytesIO(buf.getvalue())) == ["Loaded image: legacy:old"]
    img = other.get("legacy:old")
    assert img.diff_ids == [diff, diff]
    assert len(other.meta.snapshots()) == 2
