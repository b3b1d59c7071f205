"""Tar streams of file trees (services layer): a rootfs for `docker export`, an overlay upper dir as a layer
diff for `docker commit` (0/0 char devices -> .wh.NAME, opaque dirs -> .wh..wh..opq; image-spec layer.md).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Iterator

from berth.daemon.images.tarstream import END, info_member
from berth.util.idmap import IdMap

__all__ = ["tar_diff", "tar_directory"]

OPAQUE_XATTR = "trusted.overlay.opaque"
_KEEP_XATTRS = ("security.capability", "user.")


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


def _entry(tar: tarfile.TarFile, path: str, arcname: str, idmap: IdMap | None) -> Iterator[bytes]:
    info = tar.gettarinfo(path, arcname)
    if info is None:  # sockets cannot be archived
        return
    info.uname = info.gname = ""
    if idmap is not None:  # a remapped daemon's files: back to the ids the container saw
        info.uid, info.gid = idmap.container_uid(info.uid), idmap.container_gid(info.gid)
    info.pax_headers = _xattrs(path)
    if info.isreg():
        with open(path, "rb") as f:
            yield from info_member(info, f)
    else:
        yield from info_member(info)


def _marker(name: str, mtime: float) -> Iterator[bytes]:
    info = tarfile.TarInfo(name)
    info.mtime = int(mtime)
    return info_member(info)


def _indexer() -> tarfile.TarFile:
    """A TarFile used only for gettarinfo (it remembers inodes, so hardlinks become link members)."""
    return tarfile.TarFile(fileobj=io.BytesIO(), mode="w", format=tarfile.PAX_FORMAT)


def _walk(root: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """(full path, archive name, lstat) of every entry under root, parents before children, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            arc = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield full, arc, os.lstat(full)


def tar_directory(root: str, idmap: IdMap | None = None) -> Iterator[bytes]:
    """The tree under `root` as an uncompressed PAX tar, streamed (numeric owners, xattrs, hardlinks)."""
    tar = _indexer()
    for full, arc, _st in _walk(root):
        yield from _entry(tar, full, arc, idmap)
    yield END


def tar_diff(upper: str, idmap: IdMap | None = None, skip: frozenset[str] = frozenset()) -> Iterator[bytes]:
    """An overlay upper dir as an image layer: whiteouts and opaque dirs in image-spec form; the relative
    paths in `skip` are left out."""
    tar = _indexer()
    for full, arc, st in _walk(upper):
        if arc in skip:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            parent, name = os.path.split(arc)
            yield from _marker(os.path.join(parent, ".wh." + name), st.st_mtime)
            continue
        yield from _entry(tar, full, arc, idmap)
        if stat.S_ISDIR(st.st_mode) and _is_opaque(full):
            yield from _marker(f"{arc}/.wh..wh..opq", st.st_mtime)
    yield END


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False
