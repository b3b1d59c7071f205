"""Layer compression for push (stores layer): deterministic gzip (mtime 0, no name) through ISA-L's igzip when
installed, else zlib on blocks compressed by parallel threads (pigz's layout: one deflate stream, each block
primed with the previous 32 KiB and ended on a byte boundary), returning the blob's digest and size.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

__all__ = ["LEVEL", "gzip_blob"]

LEVEL = 1  # speed over a few % of size: layers are compressed once per push of a loaded or built image
BLOCK = 4 << 20
WINDOW = 32 << 10
THREADS = 2
READ = 1 << 20
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip, deflate, no flags, mtime 0, OS unknown


def _igzip() -> str | None:
    if os.environ.get("BERTH_DISABLE_IGZIP", "") not in ("", "0"):
        return None
    return shutil.which("igzip")


class _Out:
    def __init__(self, out: BinaryIO) -> None:
        self.out, self.hash, self.size = out, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.hash.update(data)
        self.size += len(data)

    def result(self) -> tuple[str, int]:
        self.out.flush()
        return "sha256:" + self.hash.hexdigest(), self.size


def gzip_blob(src: BinaryIO, out: BinaryIO, level: int = LEVEL) -> tuple[str, int]:
    """Compress all of `src` (a real file) into `out`; returns (digest, size) of what was written."""
    tool = _igzip()
    if tool is not None and 0 <= level <= 3:
        return _external(tool, src, out, level)
    return _threads(src, out, level)


def _external(tool: str, src: BinaryIO, out: BinaryIO, level: int) -> tuple[str, int]:
    sink = _Out(out)
    with subprocess.Popen([tool, f"-{level}", "-n", "-c"], stdin=src, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, close_fds=True) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        while data := proc.stdout.read(READ):
            sink.write(data)
        err = proc.stderr.read().decode(errors="replace").strip()
        rc = proc.wait()
    if rc != 0:
        raise OSError(f"igzip failed: {err or f'exit status {rc}'}")
    return sink.result()


def _deflate(block: bytes, prime: bytes, level: int, last: bool) -> bytes:
    comp = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, *([prime] if prime else []))
    return comp.compress(block) + comp.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _threads(src: BinaryIO, out: BinaryIO, level: int) -> tuple[str, int]:
    sink = _Out(out)
    sink.write(_HEADER)
    crc, total = 0, 0
    prime = b""
    pending = []
    with ThreadPoolExecutor(THREADS, thread_name_prefix="gzip") as pool:
        block = src.read(BLOCK)
        while True:
            nxt = src.read(BLOCK)
            crc = zlib.crc32(block, crc)
            total += len(block)
            pending.append(pool.submit(_deflate, block, prime, level, not nxt))
            prime = block[-WINDOW:]
            while len(pending) > THREADS * 2 or (pending and not nxt):
                sink.write(pending.pop(0).result())
            if not nxt:
                break
            block = nxt
    sink.write(struct.pack("<II", crc, total & 0xFFFFFFFF))
    return sink.result()
