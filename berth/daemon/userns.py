"""--userns-remap: the id ranges of the remap user from /etc/subuid and /etc/subgid, and the remapped root."""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import subprocess

from berth import errdefs
from berth.util.atomic import write_atomic
from berth.util.idmap import IdMap, IdRange

__all__ = ["DEFAULT_USER", "prepare_remapped_root", "resolve"]

DEFAULT_USER = "berth"
DEFAULT_SIZE = 65536
FIRST_ID = 100000
log = logging.getLogger(__name__)


def _read_ranges(path: str) -> list[tuple[str, int, int]]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def _ranges_for(path: str, names: set[str]) -> tuple[IdRange, ...]:
    """Every range listed for one of `names` (user name or id), laid end to end from container id 0."""
    out: list[IdRange] = []
    next_id = 0
    for owner, start, size in _read_ranges(path):
        if owner in names:
            out.append(IdRange(next_id, start, size))
            next_id += size
    return tuple(out)


def _add_range(path: str, owner: str) -> None:
    """Give `owner` the first free DEFAULT_SIZE ids from FIRST_ID on (as `usermod --add-subuids` would)."""
    ranges = _read_ranges(path)
    start = max([FIRST_ID, *(s + n for _, s, n in ranges)])
    try:
        with open(path, "rb") as f:
            old = f.read()
    except FileNotFoundError:
        old = b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    write_atomic(path, old + f"{owner}:{start}:{DEFAULT_SIZE}\n".encode(), mode=0o644)


def _ensure_default_user() -> None:
    try:
        pwd.getpwnam(DEFAULT_USER)
        return
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    group = ["-g", DEFAULT_USER] if _group_exists(DEFAULT_USER) else ["-U"]
    res = subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", *group,
                          DEFAULT_USER], capture_output=True, text=True)
    if res.returncode != 0:
        raise errdefs.System(f"Can't create ID mappings: could not add user {DEFAULT_USER!r}: {res.stderr.strip()}")


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def resolve(setting: str, subuid: str = "/etc/subuid", subgid: str = "/etc/subgid") -> IdMap:
    """The IdMap for `--userns-remap default | user[:group]` (names or numeric ids)."""
    user, _, group = setting.partition(":")
    if user == "default":
        _ensure_default_user()
        user, group = DEFAULT_USER, group or DEFAULT_USER
        if not _ranges_for(subuid, {user}):
            _add_range(subuid, user)
        if not _ranges_for(subgid, {group}):
            _add_range(subgid, group)
    group = group or user
    try:
        pw = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise errdefs.InvalidParameter(f"Can't create ID mappings: user {user!r} does not exist") from None
    try:
        gr = grp.getgrgid(int(group)) if group.isdigit() else grp.getgrnam(group)
    except KeyError:
        raise errdefs.InvalidParameter(f"Can't create ID mappings: group {group!r} does not exist") from None
    uids = _ranges_for(subuid, {pw.pw_name, str(pw.pw_uid)})
    if not uids:
        raise errdefs.InvalidParameter(f'Can\'t create ID mappings: no subuid ranges found for user "{pw.pw_name}"')
    gids = _ranges_for(subgid, {gr.gr_name, str(gr.gr_gid)})
    if not gids:
        raise errdefs.InvalidParameter(f'Can\'t create ID mappings: no subgid ranges found for group "{gr.gr_name}"')
    return IdMap(uids, gids)


def prepare_remapped_root(data_root: str, idmap: IdMap) -> str:
    """<data-root>/<uid>.<gid>, root-owned with the remapped root's group allowed to traverse (0710), as dockerd
    lays it out; the data root and its ancestors get o+x so that the remapped root can reach its rootfs."""
    os.makedirs(data_root, mode=0o711, exist_ok=True)
    path = os.path.abspath(data_root)
    while True:
        st = os.stat(path)
        if not st.st_mode & 0o001:
            log.info("userns-remap: allowing traversal of %s (o+x) for the remapped root", path)
            os.chmod(path, (st.st_mode & 0o7777) | 0o001)
        if path == "/":
            break
        path = os.path.dirname(path)
    root = os.path.join(data_root, f"{idmap.root_uid}.{idmap.root_gid}")
    os.makedirs(root, mode=0o710, exist_ok=True)
    os.chown(root, 0, idmap.root_gid)
    os.chmod(root, 0o710)
    return root
