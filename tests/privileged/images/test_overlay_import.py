"""Imported images mounted with overlayfs on the real kernel: files visible, whiteouts hide, writes go up."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
from pathlib import Path

import pytest

from berth.daemon.images.service import ImagesService
from berth.kernel import mount as kmount
from berth.store.snapshots.overlay import Snapshotter
from tests.privileged.images.conftest import TarBuilder
from tests.rootfs import busybox_tar_bytes

pytestmark = pytest.mark.privileged


def do_mount(m: dict[str, object], target: Path, mounts: list[str]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    assert m["type"] == "overlay"
    kmount.mount("overlay", str(target), "overlay", 0, ",".join(m["options"]))  # type: ignore[arg-type]
    mounts.append(str(target))


@pytest.fixture
def svc(tmp_path: Path) -> ImagesService:
    return ImagesService.open(str(tmp_path / "root"))


def test_import_with_changes_then_run_from_the_overlay(svc: ImagesService, tmp_path: Path,
                                                       mounts: list[str]) -> None:
    data = gzip.compress(busybox_tar_bytes(str(tmp_path)))
    iid = svc.import_image(io.BytesIO(data), "bb", "1", ['CMD ["/bin/sh"]', "ENV GREETING=hi", "WORKDIR /srv"])
    out = svc.inspect("bb:1")
    assert out["Config"]["Cmd"] == ["/bin/sh"]
    assert out["Config"]["Env"] == ["GREETING=hi"]
    assert out["Config"]["WorkingDir"] == "/srv"
    rootfs = tmp_path / "rootfs"
    do_mount(svc.rootfs_mount("c1", iid), rootfs, mounts)
    assert (rootfs / "bin" / "busybox").is_file()
    echo = subprocess.run(["chroot", str(rootfs), "/bin/sh", "-c", "echo from-overlay > /new; cat /new"],
                          capture_output=True, text=True, check=True)
    assert echo.stdout == "from-overlay\n"
    upper = svc.layer_dirs("c1", iid)[0]
    assert (Path(upper) / "new").read_text() == "from-overlay\n"
    # the image's layer was not touched
    assert not os.path.exists(os.path.join(svc.layer_dirs("c1", iid)[1], "new"))
    kmount.umount2(str(rootfs), 0)
    mounts.remove(str(rootfs))
    svc.release_rootfs("c1")
    assert [s.key for s in svc.meta.snapshots()] == [svc.get(iid).record.chain_id]


def test_whiteouts_and_opaque_dirs_under_overlay(tmp_path: Path, mounts: list[str]) -> None:
    from berth.store.metadata import MetadataStore

    meta = MetadataStore(str(tmp_path / "metadata.db"))
    try:
        snaps = Snapshotter(str(tmp_path / "snapshots"), meta)
        base = snaps.apply_layer(None, io.BytesIO(
            TarBuilder().dir("etc").add("etc/group", data=b"g").add("etc/keep", data=b"k").dir("data")
            .add("data/old", data=b"o").bytes())).chain_id
        top = snaps.apply_layer(base, io.BytesIO(
            TarBuilder().add("etc/.wh.group").dir("data").add("data/.wh..wh..opq")
            .add("data/new", data=b"n").bytes())).chain_id
        assert len(snaps.lower_dirs(top)) == 2
        target = tmp_path / "merged"
        do_mount(snaps.prepare_rw("ctr", top), target, mounts)
        assert sorted(os.listdir(target / "etc")) == ["keep"]
        assert sorted(os.listdir(target / "data")) == ["new"]
        os.unlink(target / "etc" / "keep")
        upper_keep = os.lstat(os.path.join(snaps.fs_dir("ctr"), "etc", "keep"))
        assert upper_keep.st_rdev == 0  # overlayfs records the deletion as a 0/0 char device
        kmount.umount2(str(target), 0)
        mounts.remove(str(target))
        snaps.remove("ctr")
        snaps.remove(top)
        snaps.remove(base)
        assert sorted(os.listdir(snaps.root)) == ["l"]
    finally:
        meta.close()


def test_two_data_roots_do_not_interfere(tmp_path: Path) -> None:
    a = ImagesService.open(str(tmp_path / "a"))
    b = ImagesService.open(str(tmp_path / "b"))
    data = TarBuilder().add("f", data=b"x").bytes()
    iid = a.import_image(io.BytesIO(data), "only-a")
    assert b.list() == []
    assert b.image_count() == 0
    b.import_image(io.BytesIO(data), "only-b")
    assert [s["RepoTags"] for s in a.list()] == [["only-a:latest"]]
    a.delete(iid)
    assert [s["RepoTags"] for s in b.list()] == [["only-b:latest"]]


def test_container_changes_export_as_a_layer_with_whiteouts(tmp_path: Path, mounts: list[str]) -> None:
    import tarfile

    from berth.daemon.images.export import tar_diff
    from berth.store.metadata import MetadataStore

    meta = MetadataStore(str(tmp_path / "metadata.db"))
    try:
        snaps = Snapshotter(str(tmp_path / "snapshots"), meta)
        base = snaps.apply_layer(None, io.BytesIO(
            TarBuilder().dir("etc").add("etc/gone", data=b"g").dir("data").add("data/old", data=b"o")
            .bytes())).chain_id
        target = tmp_path / "merged"
        do_mount(snaps.prepare_rw("ctr", base), target, mounts)
        os.unlink(target / "etc" / "gone")
        subprocess.run(["rm", "-rf", str(target / "data")], check=True)
        (target / "data").mkdir()
        (target / "data" / "fresh").write_text("f")
        layer = b"".join(tar_diff(snaps.fs_dir("ctr")))
        with tarfile.open(fileobj=io.BytesIO(layer), mode="r:") as tar:
            names = tar.getnames()
        assert "etc/.wh.gone" in names
        assert "data/.wh..wh..opq" in names
        assert "data/fresh" in names
        # applying the diff on the base layer gives the container's view
        top = snaps.apply_layer(base, io.BytesIO(layer)).chain_id
        view = tmp_path / "view"
        do_mount(snaps.prepare_rw("view", top), view, mounts)
        assert sorted(os.listdir(view / "etc")) == []
        assert sorted(os.listdir(view / "data")) == ["fresh"]
    finally:
        meta.close()


def test_commit_makes_a_child_image_with_the_containers_changes(svc: ImagesService, tmp_path: Path,
                                                                mounts: list[str]) -> None:
    from berth import errdefs

    base = svc.import_image(io.BytesIO(busybox_tar_bytes(str(tmp_path))), "bb")
    rootfs = tmp_path / "c1"
    do_mount(svc.rootfs_mount("c1", base), rootfs, mounts)
    subprocess.run(["chroot", str(rootfs), "/bin/sh", "-c", "echo made > /made; rm /etc/group"], check=True)
    cfg = dict(svc.get(base).config, Cmd=["/bin/sh", "-c", "echo made > /made"])
    child = svc.commit("c1", base, cfg, repo="bb", tag="2", changes=["ENV COMMITTED=1"], comment="snap",
                       author="me")
    out = svc.inspect("bb:2")
    assert out["Parent"] == base
    assert out["Author"] == "me"
    assert out["Container"] == "c1"
    assert out["Config"]["Env"] == ["COMMITTED=1"]
    assert len(out["RootFS"]["Layers"]) == 2
    rows = svc.history("bb:2")
    assert [r["Id"] for r in rows] == [child, "<missing>"]
    assert rows[0]["CreatedBy"] == "/bin/sh -c echo made > /made"
    assert rows[0]["Comment"] == "snap"
    assert rows[0]["Tags"] == ["bb:2"]
    view = tmp_path / "c2"
    do_mount(svc.rootfs_mount("c2", child), view, mounts)
    assert (view / "made").read_text() == "made\n"
    assert not (view / "etc" / "group").exists()
    assert (view / "etc" / "passwd").exists()
    with pytest.raises(errdefs.Conflict, match=r"\(cannot be forced\) - image has dependent child images"):
        svc.delete(base[7:19], force=True)


def test_save_then_load_into_another_root_and_run(svc: ImagesService, tmp_path: Path, mounts: list[str]) -> None:
    iid = svc.import_image(io.BytesIO(busybox_tar_bytes(str(tmp_path))), "bb", "", ['CMD ["sh"]'])
    base_top = svc.get(iid).record.chain_id
    assert base_top is not None
    rootfs = tmp_path / "c1"
    do_mount(svc.rootfs_mount("c1", iid), rootfs, mounts)
    subprocess.run(["chroot", str(rootfs), "/bin/sh", "-c", "echo layered > /etc/motd"], check=True)
    child = svc.commit("c1", iid, svc.get(iid).config, repo="bb", tag="2")
    archive = b"".join(svc.save(["bb:2"]))
    other = ImagesService.open(str(tmp_path / "other"))
    assert other.load(io.BytesIO(archive)) == ["Loaded image: bb:2"]
    loaded = other.get("bb:2")
    assert loaded.id == child
    assert len(loaded.diff_ids) == 2
    view = tmp_path / "view"
    do_mount(other.rootfs_mount("v", child), view, mounts)
    out = subprocess.run(["chroot", str(view), "/bin/cat", "/etc/motd"], capture_output=True, text=True,
                         check=True)
    assert out.stdout == "layered\n"
