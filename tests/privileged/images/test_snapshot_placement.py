"""The snapshots directory is a top of directory hierarchies (chattr +T) on ext4; elsewhere the flag is not needed."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.kernel.fsflags import FS_TOPDIR_FL, get_flags
from berth.store.metadata import MetadataStore
from berth.store.snapshots.overlay import Snapshotter

pytestmark = pytest.mark.privileged


@pytest.fixture
def ext4_nojournal(tmp_path: Path) -> Iterator[Path]:
    """A small ext4 without a journal (as this project's development disk) on a loop device, unmounted after."""
    image, mnt = tmp_path / "fs.img", tmp_path / "mnt"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-O", "^has_journal", str(image)], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True, capture_output=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-d", str(mnt)], check=False, capture_output=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _snapshotter(data_root: Path) -> Snapshotter:
    meta = MetadataStore(str(data_root / "metadata.db"))
    return Snapshotter(str(data_root / "snapshots"), meta)


def test_snapshots_dir_on_ext4_spreads_new_snapshots(ext4_nojournal: Path) -> None:
    snaps = _snapshotter(ext4_nojournal)
    try:
        assert get_flags(snaps.root) & FS_TOPDIR_FL
        # a second start finds the flag set and keeps it
        _snapshotter(ext4_nojournal).meta.close()
        assert get_flags(snaps.root) & FS_TOPDIR_FL
        attrs = subprocess.run(["lsattr", "-d", snaps.root], capture_output=True, text=True, check=True).stdout
        assert "T" in attrs.split()[0]
    finally:
        snaps.meta.close()


def test_snapshotter_starts_on_a_filesystem_without_inode_flags(tmpfs: Path) -> None:
    snaps = _snapshotter(tmpfs)
    try:
        assert (tmpfs / "snapshots" / "l").is_dir()
        try:  # tmpfs has inode flags since Linux 6.0, but not this one
            assert not get_flags(snaps.root) & FS_TOPDIR_FL
        except OSError:
            pass
    finally:
        snaps.meta.close()
