"""The extractor with its worker threads forced on: files land with their data, owners and modes, and members
that touch names still being written (duplicates, hardlinks, whiteouts, a dir turned symlink) keep tar order."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from berth.store import unpack

pytestmark = pytest.mark.privileged


def _tar(entries: list[tuple[str, bytes, dict[str, object]]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, kw in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data) if kw.get("type", tarfile.REGTYPE) == tarfile.REGTYPE else 0
            info.mode = 0o644
            for k, v in kw.items():
                setattr(info, k, v)
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def threads_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unpack, "PROBE_FILES", 2)
    monkeypatch.setattr(unpack, "SLOW_FILE", -1.0)


def test_many_files_and_order_sensitive_members(tmp_path: Path) -> None:
    entries: list[tuple[str, bytes, dict[str, object]]] = [("d", b"", {"type": tarfile.DIRTYPE, "mode": 0o755})]
    entries += [(f"d/sub{i % 7}/f{i}", f"file {i}".encode(), {"uid": i % 3, "mode": 0o640}) for i in range(300)]
    entries += [
        ("d/sub1/f1", b"second version", {}),  # a duplicate name while the first may still be written
        ("d/hard", b"", {"type": tarfile.LNKTYPE, "linkname": "d/sub2/f2"}),
        ("d/sub3/.wh.f3", b"", {}),
        ("d/suid", b"#!", {"mode": 0o4755}),
        ("gone/x", b"x", {}),
        ("gone", b"", {"type": tarfile.SYMTYPE, "linkname": "d"}),
    ]
    root = tmp_path / "root"
    root.mkdir()
    size = unpack.extract(io.BytesIO(_tar(entries)), str(root))
    assert size > 0
    for i in range(300):
        path = root / f"d/sub{i % 7}/f{i}"
        if i == 3:
            st = os.lstat(path)
            assert stat.S_ISCHR(st.st_mode)
            assert st.st_rdev == 0
            continue
        want = b"second version" if i == 1 else f"file {i}".encode()
        assert path.read_bytes() == want
        st = os.lstat(path)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == ((0, 0o644) if i == 1 else (i % 3, 0o640))
    assert os.lstat(root / "d/hard").st_ino == os.lstat(root / "d/sub2/f2").st_ino
    assert stat.S_IMODE(os.lstat(root / "d/suid").st_mode) == 0o4755
    assert os.readlink(root / "gone") == "d"


def test_an_error_in_a_worker_fails_the_extraction(tmp_path: Path) -> None:
    entries: list[tuple[str, bytes, dict[str, object]]] = [(f"f{i}", b"x", {}) for i in range(20)]
    entries.append(("blocker", b"x", {}))
    entries += [(f"blocker/under{i}", b"y", {}) for i in range(5)]  # a file as a parent directory
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(OSError):
        unpack.extract(io.BytesIO(_tar(entries)), str(root))
