"""Layer unpack helper (stores layer, own process): `python -m berth.store.unpack DIR [IDMAP]` chroots into DIR
and extracts the tar on stdin there, converting image-spec whiteouts for overlayfs (and, with an IdMap text
from berth.util.idmap, shifting owners to the host ids of a remapped daemon).

    snapshotter (daemon thread)              helper (fresh interpreter, root)
      spawn `-m berth.store.unpack DIR` ---> chroot(DIR), chdir("/")
      tar bytes on stdin               ---> extract member by member (paths resolve inside DIR only)
      reads stdout                     <--- {"size": N} on success, exit 0
      reads stderr                     <--- one-line error, exit 1

Stdlib only, no tarfile extraction filters (absent on Debian's 3.11.2): the chroot contains symlinks and `..`,
and our own checks reject `..` escapes in member names and hardlink targets.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import sys
import tarfile
from typing import BinaryIO

from berth.util.idmap import IdMap, UnmappableId

__all__ = ["LayerError", "clean_name", "extract", "main"]

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PREFIX = "SCHILY.xattr."


class LayerError(Exception):
    """The layer tar is invalid or hostile."""


def clean_name(name: str) -> str:
    """A member name as a path relative to the layer root; `..` may not climb above it (moby breakout)."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise LayerError(f"invalid tar member {name!r}: path is outside of the layer root")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _ensure_parent(path: str) -> None:
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, mode=0o755, exist_ok=True)


def _owner(member: tarfile.TarInfo, idmap: IdMap | None) -> tuple[int, int]:
    if idmap is None:
        return member.uid, member.gid
    try:
        return idmap.host_uid(member.uid), idmap.host_gid(member.gid)
    except UnmappableId as exc:
        raise LayerError(f"{exc} (file {member.name!r})") from None


def _whiteout(parent: str, base: str, member: tarfile.TarInfo, idmap: IdMap | None) -> None:
    # image-spec layer.md: opaque whiteout .wh..wh..opq, file whiteout .wh.<name>; overlayfs equivalents
    if parent:
        os.makedirs(parent, mode=0o755, exist_ok=True)
    target_dir = parent or "/"
    if base == OPAQUE:
        os.setxattr(target_dir, OPAQUE_XATTR, b"y")
        return
    name = base[len(WHITEOUT_PREFIX):]
    if name in ("", ".", ".."):
        raise LayerError(f"invalid whiteout {base!r} in {parent or '/'}")
    victim = os.path.join(target_dir, name)
    _remove(victim)
    os.mknod(victim, stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.lchown(victim, *_owner(member, idmap))


def _create(path: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
    if member.isdir():
        if not os.path.isdir(path) or os.path.islink(path):
            _remove(path)
            os.mkdir(path, 0o700)
        return
    _remove(path)
    if member.isreg():
        src = tar.extractfile(member)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            if src is not None:
                shutil.copyfileobj(src, out, 1 << 20)
    elif member.issym():
        os.symlink(member.linkname, path)
    elif member.islnk():
        target = "/" + clean_name(member.linkname)
        if not os.path.lexists(target):
            raise LayerError(f"invalid hardlink {member.name!r} -> {member.linkname!r}: target not in layer")
        os.link(target, path, follow_symlinks=False)
    elif member.ischr() or member.isblk():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
    elif member.isfifo():
        os.mkfifo(path, member.mode & 0o7777)
    else:
        raise LayerError(f"unsupported tar member type {member.type!r} for {member.name!r}")


def _apply_meta(path: str, member: tarfile.TarInfo, idmap: IdMap | None) -> None:
    if member.islnk():  # a hardlink shares its target's inode, which already carries the metadata
        return
    os.lchown(path, *_owner(member, idmap))
    if not member.issym():
        os.chmod(path, member.mode & 0o7777)
    for key, value in member.pax_headers.items():
        if key.startswith(XATTR_PREFIX):
            try:
                os.setxattr(path, key[len(XATTR_PREFIX):], value.encode("utf-8", "surrogateescape"),
                            follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise
    if not member.isdir():
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)


def extract(stream: BinaryIO, root: str = "/", idmap: IdMap | None = None) -> int:
    """Extract a layer tar from `stream` under `root`; returns the bytes of regular files written."""
    size = 0
    dirs: list[tuple[str, float]] = []
    with tarfile.open(fileobj=stream, mode="r|", errors="surrogateescape") as tar:
        for member in tar:
            rel = clean_name(member.name)
            parent, base = os.path.split(rel)
            if base.startswith(WHITEOUT_PREFIX):
                _whiteout(os.path.join(root, parent) if parent else root, base, member, idmap)
                continue
            path = os.path.join(root, rel) if rel else root
            if rel:
                _ensure_parent(path)
                _create(path, member, tar)
            elif not member.isdir():
                raise LayerError(f"invalid tar member {member.name!r}: the layer root must be a directory")
            _apply_meta(path, member, idmap)
            if member.isdir():
                dirs.append((path, member.mtime))
            elif member.isreg():
                size += member.size
    for path, mtime in reversed(dirs):
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return size


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        sys.stderr.write("usage: python -m berth.store.unpack DIR [IDMAP] < layer.tar\n")
        return 2
    stdin = sys.stdin.buffer
    try:
        idmap = IdMap.decode(args[1]) if len(args) == 2 else None
        os.chroot(args[0])
        os.chdir("/")
        os.umask(0)
        size = extract(stdin, "/", idmap)
        while stdin.read(1 << 16):
            pass
    except (LayerError, tarfile.TarError, OSError, EOFError, ValueError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    sys.stdout.write(json.dumps({"size": size}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
