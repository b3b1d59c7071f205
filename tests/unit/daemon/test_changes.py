"""`docker diff` classifies upper-dir entries as added, changed or deleted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.daemon.containers.changes import changes


@pytest.mark.privileged
def test_added_modified_deleted(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("x")
    (lower / "gone").write_text("x")
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "passwd").write_text("y")
    (upper / "new.txt").write_text("n")
    os.mknod(upper / "gone", 0o600 | 0o020000, os.makedev(0, 0))
    got = {c["Path"]: c["Kind"] for c in changes(str(upper), [str(lower)])}
    assert got == {"/etc": 0, "/etc/passwd": 0, "/new.txt": 1, "/gone": 2}


def test_mount_placeholders_are_not_changes(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (upper / "etc").mkdir(parents=True)
    for name in ("hosts", "hostname", "resolv.conf"):
        (upper / "etc" / name).write_text("")
    assert changes(str(upper), [str(lower)]) == []
    (upper / "etc" / "hosts").write_text("127.0.0.1 written into the layer\n")  # not a placeholder then
    (upper / "zz").mkdir()
    (upper / "zz" / "a").write_text("a")
    (upper / "b").write_text("b")
    assert [c["Path"] for c in changes(str(upper), [str(lower)])] == ["/b", "/etc", "/etc/hosts", "/zz", "/zz/a"]
