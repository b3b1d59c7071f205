"""Resolve Docker's `User` against the image's /etc/passwd and /etc/group, read safely from layer dirs."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from berth import errdefs

__all__ = ["GroupEntry", "PasswdEntry", "ResolvedUser", "find_file", "read_layered", "resolve"]

MAX_ID = 2**31 - 1
_MAX_FILE = 8 << 20
_MAX_HOPS = 40
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


class ResolvedUser(NamedTuple):
    """The process identity: uid, gid, supplementary gids (gid first, like docker) and HOME."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


@dataclass(frozen=True, slots=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True, slots=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


# -- reading a file from the union of layer directories without following symlinks out -------------
def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    if os.path.lexists(os.path.join(path, ".wh..wh..opq")):
        return True
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _lookup(dirs: Sequence[str], name: str) -> tuple[str, os.stat_result, list[str]] | None:
    """The top entry `name` among the merged `dirs`, and (for a dir) the dirs merged under it."""
    for i, d in enumerate(dirs):
        if os.path.lexists(os.path.join(d, ".wh." + name)):
            return None
        path = os.path.join(d, name)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if _is_whiteout(st):
            return None
        merged = [path] if stat.S_ISDIR(st.st_mode) else []
        if merged and not _is_opaque(path):
            merged += _lower_dirs(dirs[i + 1 :], name)
        return path, st, merged
    return None


def _lower_dirs(dirs: Sequence[str], name: str) -> list[str]:
    out = []
    for d in dirs:
        if os.path.lexists(os.path.join(d, ".wh." + name)):
            break
        path = os.path.join(d, name)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not stat.S_ISDIR(st.st_mode):
            break
        out.append(path)
        if _is_opaque(path):
            break
    return out


def find_file(layers: Sequence[str], path: str) -> str | None:
    """The host path of the regular file at `path` in the merged view of `layers` (top first).

    Symlinks are resolved inside the merged view, never by the host, so no path leaves the layers.
    """
    pending = [p for p in path.split("/") if p]
    resolved: list[str] = []
    dirs = list(layers)
    hops = 0
    while pending:
        name = pending.pop(0)
        if name == ".":
            continue
        if name == "..":
            resolved = resolved[:-1]
            dirs = _dirs_of(layers, resolved)
            continue
        found = _lookup(dirs, name)
        if found is None:
            return None
        host_path, st, merged = found
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > _MAX_HOPS:
                return None
            target = os.readlink(host_path)
            if target.startswith("/"):
                resolved = []
                dirs = list(layers)
            pending = [p for p in target.split("/") if p] + pending
            continue
        if not pending:
            return host_path if stat.S_ISREG(st.st_mode) else None
        if not merged:
            return None
        resolved.append(name)
        dirs = merged
    return None


def _dirs_of(layers: Sequence[str], components: Sequence[str]) -> list[str]:
    dirs = list(layers)
    for name in components:
        found = _lookup(dirs, name)
        if found is None or not found[2]:
            return []
        dirs = found[2]
    return dirs


def read_layered(layers: Sequence[str], path: str) -> str | None:
    """The text of `path` in the merged layers, or None when absent."""
    host_path = find_file(layers, path)
    if host_path is None:
        return None
    try:
        fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read(_MAX_FILE).decode("utf-8", "replace")


# -- parsing ------------------------------------------------------------------------------------
def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def parse_passwd(text: str) -> list[PasswdEntry]:
    out = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) < 4 or line.startswith("#"):
            continue
        uid, gid = _int(parts[2]), _int(parts[3])
        if uid is None or gid is None:
            continue
        out.append(PasswdEntry(parts[0], uid, gid, parts[5] if len(parts) > 5 else ""))
    return out


def parse_group(text: str) -> list[GroupEntry]:
    out = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) < 3 or line.startswith("#"):
            continue
        gid = _int(parts[2])
        if gid is None:
            continue
        members = tuple(m for m in (parts[3] if len(parts) > 3 else "").split(",") if m)
        out.append(GroupEntry(parts[0], gid, members))
    return out


# -- resolution ---------------------------------------------------------------------------------
def _check_range(value: int) -> int:
    if value > MAX_ID:
        raise errdefs.InvalidParameter(f"uids and gids must be in range 0-{MAX_ID}")
    return value


def _find_user(user_arg: str, passwd: list[PasswdEntry]) -> tuple[int, int, str, str]:
    """(uid, gid, home, matched name) for the user part of the spec."""
    numeric = _int(user_arg or "0")
    for e in passwd:
        if (numeric is not None and e.uid == numeric) or (numeric is None and e.name == user_arg):
            return e.uid, e.gid, e.home or "/", e.name
    if numeric is None:
        raise errdefs.InvalidParameter(f"unable to find user {user_arg}: no matching entries in passwd file")
    return _check_range(numeric), 0, "/", ""


def _find_group(group_arg: str, groups: list[GroupEntry]) -> int:
    numeric = _int(group_arg)
    if numeric is not None:
        return _check_range(numeric)
    for g in groups:
        if g.name == group_arg:
            return g.gid
    raise errdefs.InvalidParameter(f"unable to find group {group_arg}: no matching entries in group file")


def _added_groups(group_add: Sequence[str], groups: list[GroupEntry]) -> list[int]:
    out = []
    for item in group_add:
        match = [g.gid for g in groups if g.name == item or str(g.gid) == item]
        if match:
            out.append(match[0])
            continue
        numeric = _int(item)
        if numeric is None:
            raise errdefs.InvalidParameter(f"Unable to find group {item}: no matching entries in group file")
        out.append(_check_range(numeric))
    return out


def resolve(user: str, layer_dirs: Sequence[str], group_add: Sequence[str] = ()) -> ResolvedUser:
    """Docker's `User` ("", name, uid, name:group, uid:gid, ...) resolved in the image's files."""
    user_arg, sep, group_arg = user.partition(":")
    passwd = parse_passwd(read_layered(layer_dirs, "/etc/passwd") or "")
    groups = parse_group(read_layered(layer_dirs, "/etc/group") or "")
    uid, gid, home, name = _find_user(user_arg, passwd)
    supplementary: list[int] = []
    if sep and group_arg:
        gid = _find_group(group_arg, groups)
    elif name:
        supplementary = [g.gid for g in groups if name in g.members]
    extra = _added_groups(group_add, groups)
    return ResolvedUser(uid, gid, tuple(dict.fromkeys([gid, *supplementary, *extra])), home)
