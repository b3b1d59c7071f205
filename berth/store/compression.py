"""Layer stream decompression (stores layer): sniff gzip/bzip2/xz/zstd and read every member or frame."""

from __future__ import annotations

import bz2
import lzma
import zlib
from typing import Any, Protocol

__all__ = ["DecompressingReader", "Readable", "detect"]

_GZIP = b"\x1f\x8b"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_ZSTD = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 16


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def detect(head: bytes) -> str:
    """`gzip`, `bzip2`, `xz`, `zstd` or `` (plain) from the first bytes of a stream."""
    for magic, name in ((_GZIP, "gzip"), (_BZIP2, "bzip2"), (_XZ, "xz"), (_ZSTD, "zstd")):
        if head.startswith(magic):
            return name
    return ""


def _new(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor()
    try:
        import zstandard
    except ImportError:
        raise ValueError("zstd-compressed input needs the zstandard module") from None
    return zstandard.ZstdDecompressor().decompressobj()


class DecompressingReader:
    """A `read(n)` view of `src` with compression removed (concatenated gzip members included)."""

    def __init__(self, src: Readable) -> None:
        self._src = src
        self._head = src.read(6)
        self.kind = detect(self._head)
        self._dec: Any = _new(self.kind) if self.kind else None
        self._buf = bytearray()
        self._eof = False

    def _fill(self) -> None:
        data = self._head or self._src.read(CHUNK)
        self._head = b""
        if not data:
            self._eof = True
            if self._dec is not None and hasattr(self._dec, "flush"):
                self._buf += self._dec.flush()
            return
        if self._dec is None:
            self._buf += data
            return
        while data:
            self._buf += self._dec.decompress(data)
            data = getattr(self._dec, "unused_data", b"")
            if data or getattr(self._dec, "eof", False):
                self._dec = _new(self.kind)

    def read(self, n: int = -1, /) -> bytes:
        if self._dec is None and not self._buf and not self._eof and n > 0:
            data = self._head or self._src.read(n)  # plain input: no copy through the buffer
            self._head = b""
            if len(data) <= n:
                self._eof = not data
                return data
            self._buf += data
        while not self._eof and (n < 0 or len(self._buf) < n):
            self._fill()
        if n < 0 or n >= len(self._buf):
            out = bytes(self._buf)
            self._buf.clear()
        else:
            out = bytes(self._buf[:n])
            del self._buf[:n]
        return out
