"""Layer stream decompression (stores layer): sniff gzip/bzip2/xz/zstd and read every member or frame."""

from __future__ import annotations

import bz2
import lzma
import os
import shutil
import subprocess
import threading
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


def _igzip() -> str | None:
    """ISA-L's igzip inflates 2-4x faster than zlib; used for gzip when installed (BERTH_DISABLE_IGZIP=1: never)."""
    if os.environ.get("BERTH_DISABLE_IGZIP", "") not in ("", "0"):
        return None
    return shutil.which("igzip")


class _External:
    """gunzip in a child process (`igzip -dc`), fed from `src` by a thread; errors of `src` win over its own."""

    def __init__(self, tool: str, head: bytes, src: Readable) -> None:
        self._proc = subprocess.Popen([tool, "-dc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, close_fds=True)
        self._error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, args=(head, src), name="gunzip-feed", daemon=True)
        self._feeder.start()
        self._done = False

    def _feed(self, head: bytes, src: Readable) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            data = head
            while data:
                stdin.write(data)
                data = src.read(CHUNK * 16)
        except BrokenPipeError:
            pass
        except BaseException as exc:  # handed to the reader
            self._error = exc
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                pass

    def read(self, n: int) -> bytes:
        if self._done:
            return b""
        assert self._proc.stdout is not None
        data = os.read(self._proc.stdout.fileno(), n)
        if data:
            return data
        self._done = True
        self._feeder.join()
        assert self._proc.stderr is not None
        err = self._proc.stderr.read().decode(errors="replace").strip()
        rc = self._proc.wait()
        self.close()
        if self._error is not None:
            raise self._error
        if rc != 0:
            raise ValueError(f"gzip: invalid compressed data ({err or f'exit status {rc}'})")
        return b""

    def close(self) -> None:
        """Stop the child; returns once the feeder stopped reading `src` too (the caller may read it again)."""
        if self._proc.returncode is None:
            self._proc.kill()
            self._proc.wait()
        self._feeder.join()
        for f in (self._proc.stdout, self._proc.stderr):
            if f is not None:
                f.close()


class DecompressingReader:
    """A `read(n)` view of `src` with compression removed (concatenated gzip members included)."""

    def __init__(self, src: Readable, external: bool = True) -> None:
        self._src = src
        self._head = src.read(6)
        self.kind = detect(self._head)
        self._ext: _External | None = None
        tool = _igzip() if external and self.kind == "gzip" else None
        if tool is not None:
            self._ext = _External(tool, self._head, src)
            self._head = b""
        self._dec: Any = _new(self.kind) if self.kind and self._ext is None else None
        self._buf = bytearray()
        self._eof = False
        self._fed = False

    def close(self) -> None:
        """Stop an external decompressor early (reading to the end does it too)."""
        if self._ext is not None:
            self._ext.close()

    def __enter__(self) -> DecompressingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fill(self) -> None:
        data = self._head or self._src.read(CHUNK)
        self._head = b""
        if not data:
            self._eof = True
            if self._dec is not None and hasattr(self._dec, "flush"):
                self._buf += self._dec.flush()
            if self._fed and not getattr(self._dec, "eof", True):
                raise EOFError(f"{self.kind}: the compressed stream ends early")
            return
        if self._dec is None:
            self._buf += data
            return
        while data:
            self._buf += self._dec.decompress(data)
            self._fed = True
            data = getattr(self._dec, "unused_data", b"")
            if data or getattr(self._dec, "eof", False):
                self._dec = _new(self.kind)
                self._fed = False

    def read(self, n: int = -1, /) -> bytes:
        if self._ext is not None:
            if n >= 0:
                return self._ext.read(n) if n else b""
            parts = []
            while part := self._ext.read(CHUNK * 16):
                parts.append(part)
            return b"".join(parts)
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
