"""Tar streams of file trees (services layer): a rootfs for `docker export`, an overlay upper dir as a layer
diff for `docker commit` (0/0 char devices -> .wh.NAME, opaque dirs -> .wh..wh..opq; image-spec layer.md).
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator

__all__ = ["tar_diff", "tar_directory"]

CHUNK = 1 << 16
OPAQUE_XATTR = "trusted.overlay.opaque"
_KEEP_XATTRS = ("security.capability", "user.")


class _Sink:
    """A write-only file object whose bytes the generator hands out as they come."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _xattrs(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.startswith(_KEEP_XATTRS):
            try:
                value = os.getxattr(path, name, follow_symlinks=False)
            except OSError:
                continue
            out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out


def _add(tar: tarfile.TarFile, path: str, arcname: str) -> None:
    info = tar.gettarinfo(path, arcname)
    if info is None:  # sockets cannot be archived
        return
    info.uname = info.gname = ""
    info.pax_headers = _xattrs(path)
    if info.isreg():
        with open(path, "rb") as f:
            tar.addfile(info, f)
    else:
        tar.addfile(info)


def _walk(root: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """(full path, archive name, lstat) of every entry under root, parents before children, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            arc = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield full, arc, os.lstat(full)


def tar_directory(root: str) -> Iterator[bytes]:
    """The tree under `root` as an uncompressed PAX tar, streamed (numeric owners, xattrs, hardlinks)."""
    sink = _Sink()
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for full, arc, _st in _walk(root):
            _add(tar, full, arc)
            if sum(len(p) for p in sink.parts) >= CHUNK:
                yield sink.take()
    yield sink.take()


def tar_diff(upper: str) -> Iterator[bytes]:
    """An overlay upper dir as an image layer: whiteouts and opaque dirs in image-spec form."""
    sink = _Sink()
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for full, arc, st in _walk(upper):
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                parent, name = os.path.split(arc)
                marker = tarfile.TarInfo(os.path.join(parent, ".wh." + name))
                marker.mtime = int(st.st_mtime)
                tar.addfile(marker)
                continue
            _add(tar, full, arc)
            if stat.S_ISDIR(st.st_mode) and _is_opaque(full):
                marker = tarfile.TarInfo(f"{arc}/.wh..wh..opq")
                marker.mtime = int(st.st_mtime)
                tar.addfile(marker)
            if sum(len(p) for p in sink.parts) >= CHUNK:
                yield sink.take()
    yield sink.take()


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False
