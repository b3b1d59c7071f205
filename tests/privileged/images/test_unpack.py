"""The chroot'ed layer unpack helper on the real kernel: busybox, whiteouts, opaque dirs, hostile tars."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from berth import errdefs
from berth.store.snapshots.overlay import Snapshotter
from tests.privileged.images.conftest import TarBuilder
from tests.rootfs import busybox_tar_bytes

pytestmark = pytest.mark.privileged


def apply(s: Snapshotter, data: bytes, parent: str | None = None) -> str:
    return s.apply_layer(parent, io.BytesIO(data)).chain_id


def test_busybox_layer_unpacks_with_owners_and_absolute_symlinks(snapshotter: Snapshotter, tmp_path: Path) -> None:
    chain = apply(snapshotter, busybox_tar_bytes(str(tmp_path)))
    [fs] = snapshotter.lower_dirs(chain)
    assert os.access(os.path.join(fs, "bin/busybox"), os.X_OK)
    assert os.readlink(os.path.join(fs, "bin/sh")) == "/bin/busybox"
    assert os.stat(os.path.join(fs, "home/alice")).st_uid == 1000
    assert stat.S_IMODE(os.stat(os.path.join(fs, "tmp")).st_mode) == 0o1777
    assert "root:x:0:0" in Path(fs, "etc/passwd").read_text()


def test_same_layer_twice_is_unpacked_once(snapshotter: Snapshotter) -> None:
    data = TarBuilder().add("f", data=b"x").bytes()
    first = snapshotter.apply_layer(None, io.BytesIO(data))
    second = snapshotter.apply_layer(None, io.BytesIO(data))
    assert first.chain_id == second.chain_id
    assert (first.new, second.new) == (True, False)
    assert sorted(os.listdir(snapshotter.root)) == ["1", "l"]


def test_whiteouts_and_opaque_dirs_become_overlay_markers(snapshotter: Snapshotter) -> None:
    base = apply(snapshotter, TarBuilder().dir("etc").add("etc/group", data=b"g").dir("data")
                 .add("data/old", data=b"o").bytes())
    top = apply(snapshotter, TarBuilder().add("etc/.wh.group").dir("data").add("data/.wh..wh..opq")
                .add("data/new", data=b"n").bytes(), parent=base)
    fs = snapshotter.lower_dirs(top)[0]
    st = os.lstat(os.path.join(fs, "etc/group"))
    assert stat.S_ISCHR(st.st_mode)
    assert st.st_rdev == os.makedev(0, 0)
    assert not os.path.lexists(os.path.join(fs, "etc/.wh.group"))
    assert os.getxattr(os.path.join(fs, "data"), "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(os.path.join(fs, "data"))) == ["new"]


def test_devices_setuid_hardlinks_and_xattrs_are_kept(snapshotter: Snapshotter) -> None:
    data = (TarBuilder().dir("dev").add("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
            .add("dev/fifo", tarfile.FIFOTYPE, mode=0o600)
            .dir("bin").add("bin/su", data=b"#!", mode=0o4755)
            .add("bin/su2", tarfile.LNKTYPE, linkname="bin/su")
            .add("bin/ping", data=b"p", mode=0o755, pax={"SCHILY.xattr.trusted.berth": "v1"})
            .add("owned", data=b"", uid=1234, gid=5678).bytes())
    fs = snapshotter.lower_dirs(apply(snapshotter, data))[0]
    null = os.lstat(os.path.join(fs, "dev/null"))
    assert stat.S_ISCHR(null.st_mode)
    assert null.st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(os.lstat(os.path.join(fs, "dev/fifo")).st_mode)
    su = os.lstat(os.path.join(fs, "bin/su"))
    assert stat.S_IMODE(su.st_mode) == 0o4755
    assert su.st_nlink == 2
    assert os.lstat(os.path.join(fs, "bin/su2")).st_ino == su.st_ino
    assert os.getxattr(os.path.join(fs, "bin/ping"), "trusted.berth") == b"v1"
    owned = os.lstat(os.path.join(fs, "owned"))
    assert (owned.st_uid, owned.st_gid) == (1234, 5678)


def _assert_left_nothing(s: Snapshotter) -> None:
    assert s.meta.snapshots() == []
    assert sorted(os.listdir(s.root)) == ["l"]


def test_dotdot_escape_is_refused(snapshotter: Snapshotter, tmp_path: Path) -> None:
    data = TarBuilder().add("../../escaped", data=b"x").bytes()
    with pytest.raises(errdefs.InvalidParameter, match="outside of the layer root"):
        apply(snapshotter, data)
    _assert_left_nothing(snapshotter)
    assert not list(tmp_path.rglob("escaped"))


def test_symlink_to_a_host_dir_cannot_be_written_through(snapshotter: Snapshotter, tmp_path: Path) -> None:
    host = tmp_path / "hostdir"
    host.mkdir()
    for link, target in (("etc", "/etc"), ("evil", str(host)), ("rel", "../../../../../../" + str(host))):
        data = TarBuilder().add(link, tarfile.SYMTYPE, linkname=target).add(f"{link}/pwned", data=b"x").bytes()
        try:
            chain = apply(snapshotter, data)
        except errdefs.InvalidParameter:
            chain = None
        assert not os.path.exists("/etc/pwned")
        assert list(host.iterdir()) == []
        assert chain is None  # the link's target does not exist inside the layer
    # the same tar with the target directory present in the layer: the file lands inside the layer
    data = (TarBuilder().dir(str(host).lstrip("/")).add("evil", tarfile.SYMTYPE, linkname=str(host))
            .add("evil/pwned", data=b"x").bytes())
    fs = snapshotter.lower_dirs(apply(snapshotter, data))[0]
    assert os.path.isfile(os.path.join(fs, str(host).lstrip("/"), "pwned"))
    assert list(host.iterdir()) == []


def test_hardlink_pointing_outside_is_refused(snapshotter: Snapshotter) -> None:
    before = os.lstat("/etc/passwd").st_nlink
    for target in ("../../../../etc/passwd", "/etc/passwd"):
        data = TarBuilder().add("stolen", tarfile.LNKTYPE, linkname=target).bytes()
        with pytest.raises(errdefs.InvalidParameter, match=r"outside of the layer root|target not in layer"):
            apply(snapshotter, data)
    assert os.lstat("/etc/passwd").st_nlink == before
    _assert_left_nothing(snapshotter)


def test_garbage_input_fails_cleanly(snapshotter: Snapshotter) -> None:
    with pytest.raises(errdefs.InvalidParameter, match="failed to unpack layer"):
        apply(snapshotter, b"this is not a tar archive" * 100)
    _assert_left_nothing(snapshotter)


def test_concurrent_unpacks_of_one_layer_keep_one_snapshot(snapshotter: Snapshotter, tmp_path: Path) -> None:
    import threading

    data = busybox_tar_bytes(str(tmp_path))
    results: list[bool] = []

    def run() -> None:
        results.append(snapshotter.apply_layer(None, io.BytesIO(data)).new)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert sorted(os.listdir(snapshotter.root)) == ["1", "l"]
    assert len(os.listdir(snapshotter.links)) == 1


@pytest.mark.parametrize("name", ["etc/.wh..", "etc/.wh...", ".wh."])
def test_whiteouts_of_dot_names_are_refused(snapshotter: Snapshotter, name: str) -> None:
    data = TarBuilder().dir("etc").add("etc/keep", data=b"k").add(name).bytes()
    with pytest.raises(errdefs.InvalidParameter, match="invalid whiteout"):
        apply(snapshotter, data)
    _assert_left_nothing(snapshotter)


class _Breaks:
    """A stream that fails after `limit` bytes, like an upload cut short."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.buf = io.BytesIO(data)
        self.limit = limit

    def read(self, n: int = -1, /) -> bytes:
        if self.buf.tell() >= self.limit:
            raise ConnectionResetError("client went away")
        return self.buf.read(min(n if n >= 0 else self.limit, 4096))


def test_a_stream_cut_short_leaves_nothing(snapshotter: Snapshotter, tmp_path: Path) -> None:
    data = busybox_tar_bytes(str(tmp_path))
    with pytest.raises(ConnectionResetError):
        snapshotter.apply_layer(None, _Breaks(data, len(data) // 2))
    _assert_left_nothing(snapshotter)
