"""Streaming tar reader (stores layer): ustar, GNU long names and PAX headers parsed from large buffered reads,
file data handed out as memoryview slices of the read buffer (no per-member objects beyond one small record).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["TarFormatError", "Member", "TarReader", "REG", "LNK", "SYM", "CHR", "BLK", "DIR", "FIFO"]

BLOCK = 512
CHUNK = 1 << 20
ZERO = bytes(BLOCK)
REG, LNK, SYM, CHR, BLK, DIR, FIFO = "0", "1", "2", "3", "4", "5", "6"
_TYPES = {b"0": REG, b"\0": REG, b"7": REG, b"1": LNK, b"2": SYM, b"3": CHR, b"4": BLK, b"5": DIR, b"6": FIFO}
_USTAR = b"ustar\x0000"


class TarFormatError(Exception):
    """The stream is not a tar archive this reader accepts."""


class _Source(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(slots=True)
class Member:
    name: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: float
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


def _num(field_: bytes) -> int:
    """A numeric header field: octal text, or GNU base-256 when the high bit of the first byte is set."""
    if field_[:1] and field_[0] & 0x80:
        n = int.from_bytes(field_[1:], "big")
        return n - (1 << (8 * (len(field_) - 1))) if field_[0] == 0xFF else n
    text = field_.split(b"\0", 1)[0].strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarFormatError(f"invalid number {field_!r} in tar header") from None


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        sp = data.find(b" ", pos)
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise TarFormatError("invalid pax header") from None
        if sp < 0 or length <= 0 or pos + length > len(data):
            raise TarFormatError("invalid pax header")
        key, eq, value = data[sp + 1:pos + length - 1].partition(b"=")
        if not eq:
            raise TarFormatError("invalid pax header")
        out[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return out


class TarReader:
    """Members of a tar stream, in order; after each member its data must be consumed (`write_to` or `skip`)."""

    def __init__(self, src: _Source) -> None:
        self._read = src.read
        self._buf = b""
        self._pos = 0
        self._left = 0  # data bytes of the current member not consumed yet
        self._pad = 0

    # -- buffer ---------------------------------------------------------------------------------
    def _more(self) -> bool:
        data = self._read(CHUNK)
        if not data:
            return False
        self._buf = self._buf[self._pos:] + data if self._pos < len(self._buf) else data
        self._pos = 0
        return True

    def _take(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n:
            if not self._more():
                raise EOFError("unexpected end of the layer tar")
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out

    def _consume(self, n: int, fd: int | None) -> None:
        while n:
            if self._pos == len(self._buf) and not self._more():
                raise EOFError("unexpected end of the layer tar")
            k = min(n, len(self._buf) - self._pos)
            if fd is not None:
                view = memoryview(self._buf)[self._pos:self._pos + k]
                while view:
                    view = view[os.write(fd, view):]
            self._pos += k
            n -= k

    def write_to(self, fd: int) -> None:
        """Write the current member's data to `fd`."""
        self._consume(self._left, fd)
        self._left = 0

    def peek(self, n: int) -> bytes:
        """Up to `n` first bytes of the current member's data, left unread."""
        n = min(n, self._left)
        while len(self._buf) - self._pos < n:
            if not self._more():
                raise EOFError("unexpected end of the layer tar")
        return self._buf[self._pos:self._pos + n]

    def read_some(self, n: int) -> bytes:
        """At most `n` bytes of the current member's data (b"" at its end)."""
        n = min(n, self._left)
        if n <= 0:
            return b""
        if self._pos == len(self._buf) and not self._more():
            raise EOFError("unexpected end of the layer tar")
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        self._left -= len(out)
        return out

    def read_data(self) -> bytes:
        """The current member's data as bytes (for small files handed to another thread)."""
        data = self._take(self._left)
        self._left = 0
        return data

    def skip(self) -> None:
        self._consume(self._left + self._pad, None)
        self._left = self._pad = 0

    def drain(self) -> None:
        """Read the rest of the input (trailing zero blocks, tar padding)."""
        self._buf, self._pos = b"", 0
        while self._read(CHUNK):
            pass

    # -- headers --------------------------------------------------------------------------------
    def _block(self) -> bytes | None:
        if len(self._buf) - self._pos < BLOCK and not self._more() and self._pos == len(self._buf):
            return None
        return self._take(BLOCK)

    def _data(self, size: int) -> bytes:
        data = self._take(size)
        self._consume(-size % BLOCK, None)
        return data

    def __iter__(self) -> Iterator[Member]:
        pax_global: dict[str, bytes] = {}
        pax: dict[str, bytes] = {}
        long_name = long_link = None
        first = True
        while True:
            self.skip()
            block = self._block()
            if block is None:
                if first:
                    raise TarFormatError("empty file")
                raise EOFError("unexpected end of the layer tar")
            first = False
            if block == ZERO:
                return
            try:
                stored = _num(block[148:156])
            except TarFormatError:
                stored = -1
            if stored != sum(block) - sum(block[148:156]) + 8 * 32:
                raise TarFormatError("invalid tar header (bad checksum)")
            kind = block[156:157]
            size = _num(block[124:136])
            if kind in (b"x", b"g", b"L", b"K"):
                data = self._data(size)
                if kind == b"x":
                    pax.update(_pax(data))
                elif kind == b"g":
                    pax_global.update(_pax(data))
                elif kind == b"L":
                    long_name = _text(data)
                else:
                    long_link = _text(data)
                continue
            if kind == b"V":
                self._left, self._pad = size, -size % BLOCK
                continue
            member = self._member(block, kind, size, {**pax_global, **pax}, long_name, long_link)
            pax, long_name, long_link = {}, None, None
            if member.type == REG:
                self._left, self._pad = member.size, -member.size % BLOCK
            yield member

    def _member(self, block: bytes, kind: bytes, size: int, pax: dict[str, bytes], long_name: str | None,
                long_link: str | None) -> Member:
        name = _text(block[0:100])
        if block[257:265] == _USTAR and block[345] != 0:
            name = _text(block[345:500]) + "/" + name
        type_ = _TYPES.get(kind)
        if type_ is None:
            if kind == b"S" or any(k.startswith("GNU.sparse.") for k in pax):
                raise TarFormatError(f"sparse files are not supported ({name!r})")
            raise TarFormatError(f"unsupported tar member type {kind!r} for {name!r}")
        m = Member(long_name if long_name is not None else name, type_, _num(block[100:108]),
                   _num(block[108:116]), _num(block[116:124]), size, float(_num(block[136:148])),
                   long_link if long_link is not None else _text(block[157:257]))
        if type_ in (CHR, BLK):
            m.devmajor, m.devminor = _num(block[329:337]), _num(block[337:345])
        if pax:
            self._apply_pax(m, pax)
        if m.type == REG and m.name.endswith("/") and kind in (b"0", b"\0"):
            m.type = DIR
        return m

    @staticmethod
    def _apply_pax(m: Member, pax: dict[str, bytes]) -> None:
        for key, value in pax.items():
            try:
                if key == "path":
                    m.name = value.decode("utf-8", "surrogateescape")
                elif key == "linkpath":
                    m.linkname = value.decode("utf-8", "surrogateescape")
                elif key == "size":
                    m.size = int(value)
                elif key in ("uid", "gid"):
                    setattr(m, key, int(value))
                elif key == "mtime":
                    m.mtime = float(value)
                elif key.startswith("SCHILY.xattr."):
                    m.xattrs[key[len("SCHILY.xattr."):]] = value
            except ValueError:
                raise TarFormatError(f"invalid pax value for {key}: {value!r}") from None
