"""The streaming tar reader reads what tarfile writes (ustar, GNU, PAX) and refuses what is not a tar."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile

import pytest

from berth.store.tarread import DIR, LNK, REG, SYM, TarFormatError, TarReader


def _tar(fmt: int, members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def _info(name: str, type_: bytes = tarfile.REGTYPE, size: int = 0, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size = type_, size
    for k, v in kw.items():
        setattr(info, k, v)
    return info


def _read_all(data: bytes, chunk: int = 1 << 20) -> list[tuple[str, str, bytes, int, int, dict[str, bytes], str]]:
    class Src:
        def __init__(self) -> None:
            self.f = io.BytesIO(data)

        def read(self, n: int = -1, /) -> bytes:
            return self.f.read(min(n, chunk))

    reader = TarReader(Src())
    out = []
    for m in reader:
        content = b""
        if m.type == REG:
            with tempfile.TemporaryFile() as f:
                reader.write_to(f.fileno())
                f.seek(0)
                content = f.read()
        out.append((m.name, m.type, content, m.uid, m.mode, m.xattrs, m.linkname))
    return out


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("chunk", [1, 700, 1 << 20])
def test_members_names_and_data_round_trip(fmt: int, chunk: int) -> None:
    long_dir = "d" * 90 + "/" + "e" * 60
    members = [
        (_info("dir/", tarfile.DIRTYPE, mode=0o755), b""),
        (_info("dir/file", size=5, mode=0o4755, uid=1000), b"hello"),
        (_info(long_dir + "/f", size=3), b"abc"),
        (_info("link", tarfile.SYMTYPE, linkname="/dir/file"), b""),
        (_info("hard", tarfile.LNKTYPE, linkname="dir/file"), b""),
        (_info("big", size=70_000), os.urandom(70_000)),
    ]
    got = _read_all(_tar(fmt, members), chunk)
    assert [(n, t) for n, t, *_ in got] == [("dir/", DIR), ("dir/file", REG), (long_dir + "/f", REG),
                                            ("link", SYM), ("hard", LNK), ("big", REG)]
    assert got[1][2:5] == (b"hello", 1000, 0o4755)
    assert got[2][2] == b"abc"
    assert got[3][6] == "/dir/file"
    assert got[5][2] == members[5][1]


def test_long_names_and_xattrs_from_pax() -> None:
    name = "x/" * 80 + "ü-file"
    info = _info(name, size=2, pax_headers={"SCHILY.xattr.security.capability": "\x01\x02"})
    [(got, _t, data, _u, _m, xattrs, _l)] = _read_all(_tar(tarfile.PAX_FORMAT, [(info, b"ok")]))
    assert (got, data) == (name, b"ok")
    assert xattrs == {"security.capability": b"\x01\x02"}


def test_gnu_long_link_and_large_uid() -> None:
    target = "t/" * 70 + "end"
    info = _info("l", tarfile.SYMTYPE, linkname=target, uid=3_000_000_000)
    [(_n, _t, _d, uid, _m, _x, link)] = _read_all(_tar(tarfile.GNU_FORMAT, [(info, b"")]))
    assert (uid, link) == (3_000_000_000, target)


def test_garbage_empty_and_truncated_inputs_are_refused() -> None:
    with pytest.raises(TarFormatError, match="checksum"):
        _read_all(b"this is not a tar archive" * 100)
    with pytest.raises(TarFormatError, match="empty"):
        _read_all(b"")
    data = _tar(tarfile.PAX_FORMAT, [(_info("f", size=5000), b"y" * 5000)])
    with pytest.raises(EOFError):
        _read_all(data[:3000])
    assert _read_all(b"\0" * 1024) == []
