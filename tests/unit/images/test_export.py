"""Tar streams of directory trees (docker export) read back with tarfile."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from berth.daemon.images.export import tar_diff, tar_directory


def test_tar_directory_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "big").write_bytes(os.urandom(300_000))
    os.link(root / "big", root / "big2")
    os.symlink("/etc/hosts", root / "link")
    os.chmod(root / "etc" / "hosts", 0o640)
    chunks = list(tar_directory(str(root)))
    assert len(chunks) > 1  # streamed, not built in one piece
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r:") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["big", "big2", "etc", "etc/hosts", "link"]
        assert members["etc/hosts"].mode == 0o640
        assert members["link"].issym()
        assert members["link"].linkname == "/etc/hosts"
        assert members["big2"].islnk()
        assert members["big2"].linkname == "big"
        assert members["etc/hosts"].uname == ""
        f = tar.extractfile("big")
        assert f is not None
        assert f.read() == (root / "big").read_bytes()


def test_tar_diff_of_plain_files(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "f").write_text("x")
    with tarfile.open(fileobj=io.BytesIO(b"".join(tar_diff(str(tmp_path)))), mode="r:") as tar:
        assert tar.getnames() == ["tmp", "tmp/f"]
