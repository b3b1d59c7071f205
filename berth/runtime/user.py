"""The process's identity and limits (runtime layer): groups, gid, uid, rlimits, HOME, PATH lookup."""

from __future__ import annotations

import os
import resource

from berth.runtime.errors import RuntimeFailure

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["apply_rlimits", "find_executable", "home_for", "switch_user"]

_RLIMITS = {
    "RLIMIT_CPU": resource.RLIMIT_CPU,
    "RLIMIT_FSIZE": resource.RLIMIT_FSIZE,
    "RLIMIT_DATA": resource.RLIMIT_DATA,
    "RLIMIT_STACK": resource.RLIMIT_STACK,
    "RLIMIT_CORE": resource.RLIMIT_CORE,
    "RLIMIT_RSS": resource.RLIMIT_RSS,
    "RLIMIT_NPROC": resource.RLIMIT_NPROC,
    "RLIMIT_NOFILE": resource.RLIMIT_NOFILE,
    "RLIMIT_MEMLOCK": resource.RLIMIT_MEMLOCK,
    "RLIMIT_AS": resource.RLIMIT_AS,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": resource.RLIMIT_SIGPENDING,
    "RLIMIT_MSGQUEUE": resource.RLIMIT_MSGQUEUE,
    "RLIMIT_NICE": resource.RLIMIT_NICE,
    "RLIMIT_RTPRIO": resource.RLIMIT_RTPRIO,
    "RLIMIT_RTTIME": resource.RLIMIT_RTTIME,
}

_INF = resource.RLIM_INFINITY


def _le(a: int, b: int) -> bool:
    """a <= b where RLIM_INFINITY is the largest value."""
    return b == _INF or (a != _INF and a <= b)


def apply_rlimits(rlimits: list[dict[str, Any]]) -> None:
    """setrlimit each entry; a hard limit above the one we hold is clamped to it (no CAP_SYS_RESOURCE)."""
    for rl in rlimits:
        kind = _RLIMITS.get(str(rl.get("type", "")).upper())
        if kind is None:
            raise RuntimeFailure(f"unknown rlimit type {rl.get('type')}")
        soft, hard = int(rl.get("soft", 0)), int(rl.get("hard", 0))
        soft = _INF if soft >= 2**64 - 1 or soft < 0 else soft
        hard = _INF if hard >= 2**64 - 1 or hard < 0 else hard
        try:
            resource.setrlimit(kind, (soft, hard))
            continue
        except (ValueError, PermissionError):
            pass
        cur_hard = resource.getrlimit(kind)[1]
        hard = hard if _le(hard, cur_hard) else cur_hard
        soft = soft if _le(soft, hard) else hard
        resource.setrlimit(kind, (soft, hard))


def switch_user(user: dict[str, Any]) -> None:
    """setgroups, setresgid, setresuid to the OCI process user."""
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    os.setgroups([int(g) for g in user.get("additionalGids") or []])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def home_for(uid: int) -> str:
    """The user's home from the container's /etc/passwd, or /."""
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def find_executable(name: str, env: list[str]) -> str:
    """Resolve args[0] like Go's exec.LookPath with the process's PATH."""
    if "/" in name:
        if os.access(name, os.X_OK) and not os.path.isdir(name):
            return name
        if not os.path.exists(name):
            raise RuntimeFailure(f'exec: "{name}": stat {name}: no such file or directory')
        raise RuntimeFailure(f'exec: "{name}": permission denied')
    path = next((e[5:] for e in env if e.startswith("PATH=")), "")
    for d in path.split(":"):
        cand = os.path.join(d or ".", name)
        if os.access(cand, os.X_OK) and os.path.isfile(cand):  # access first: a miss raises nothing
            return cand
    raise RuntimeFailure(f'exec: "{name}": executable file not found in $PATH')
