"""`berth cp` from a container: its tar is extracted without anything landing outside the destination."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from berth.cli.commands.copy import extract
from berth.cli.pflag import StatusError


def tar_of(*members: tuple[str, str, str]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for kind, name, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data.encode()))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.type = tarfile.SYMTYPE
                info.linkname = data
                tar.addfile(info)
    buf.seek(0)
    return buf


def test_a_plain_copy_and_a_rename(tmp_path: Path) -> None:
    extract(tar_of(("dir", "d", ""), ("file", "d/x", "x"), ("symlink", "d/l", "x")), str(tmp_path), "d", None)
    assert (tmp_path / "d" / "x").read_text() == "x"
    assert os.readlink(tmp_path / "d" / "l") == "x"
    extract(tar_of(("file", "f", "f")), str(tmp_path), "f", "renamed")
    assert (tmp_path / "renamed").read_text() == "f"


@pytest.mark.parametrize("members", [
    (("file", "../escape", "x"),),
    (("symlink", "link", "/"), ("file", "link/escape", "x")),  # a write through a link the tar just made
    (("symlink", "up", ".."), ("file", "up/escape", "x")),
])
def test_nothing_lands_outside_the_destination(tmp_path: Path, members: tuple[tuple[str, str, str], ...]) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(StatusError):
        extract(tar_of(*members), str(dest), "", None)
    assert not (tmp_path / "escape").exists()
    assert not Path("/escape").exists()


def test_an_existing_symlink_is_replaced_not_written_through(tmp_path: Path) -> None:
    (tmp_path / "outside").write_text("keep")
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(tmp_path / "outside", dest / "f")
    extract(tar_of(("file", "f", "new")), str(dest), "f", None)
    assert (tmp_path / "outside").read_text() == "keep"
    assert (dest / "f").read_text() == "new"
    assert not (dest / "f").is_symlink()
