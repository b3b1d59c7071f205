"""Streaming tar writer (services layer): PAX members as header + data chunks + padding, no buffering."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["BLOCK", "END", "dir_member", "file_member", "info_member", "member"]

BLOCK = 512
END = b"\0" * (2 * BLOCK)
CHUNK = 1 << 20


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _pad(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def info_member(info: tarfile.TarInfo, f: BinaryIO | None = None) -> Iterator[bytes]:
    """One member: its header, then (for regular files) `info.size` bytes read from `f`, then padding."""
    yield _header(info)
    if not info.isreg() or not info.size:
        return
    if f is None:
        raise ValueError(f"no data for {info.name}")
    left = info.size
    while left:
        chunk = f.read(min(CHUNK, left))
        if not chunk:
            raise OSError(f"{info.name}: file shrank while archiving")
        left -= len(chunk)
        yield chunk
    yield _pad(info.size)


def member(name: str, data: bytes, mode: int = 0o644, mtime: int = 0) -> bytes:
    """A small regular file member held in memory."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, mtime
    return _header(info) + data + _pad(len(data))


def dir_member(name: str, mode: int = 0o755, mtime: int = 0) -> bytes:
    info = tarfile.TarInfo(name.rstrip("/") + "/")
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, mtime
    return _header(info)


def file_member(name: str, f: BinaryIO, size: int, mode: int = 0o644, mtime: int = 0) -> Iterator[bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, mtime
    return info_member(info, f)
