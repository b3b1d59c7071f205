"""prctl(2) options (kernel layer)."""

from __future__ import annotations

import ctypes
import errno
import os

from berth.kernel import abi
from berth.kernel.libc import LIBC, check

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ambient_clear",
    "ambient_raise",
    "capbset_drop_each",
    "capbset_read",
    "prctl",
    "set_child_subreaper",
    "set_dumpable",
    "set_keepcaps",
    "set_name",
    "set_no_new_privs",
    "set_pdeathsig",
]


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    """prctl(2), checked."""
    return check(LIBC.prctl(option, a2, a3, a4, a5), f"prctl({option})")


def set_no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS."""
    prctl(abi.PR_SET_NO_NEW_PRIVS, 1)


def set_pdeathsig(sig: int) -> None:
    """PR_SET_PDEATHSIG."""
    prctl(abi.PR_SET_PDEATHSIG, sig)


def set_dumpable(on: bool) -> None:
    """PR_SET_DUMPABLE: off, /proc/PID of this process is root's and others cannot ptrace it or read its memory
    (execve turns it back on for an ordinary program)."""
    prctl(abi.PR_SET_DUMPABLE, int(on))


def set_child_subreaper(on: bool = True) -> None:
    """PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented to us."""
    prctl(abi.PR_SET_CHILD_SUBREAPER, int(on))


def set_keepcaps(on: bool) -> None:
    """PR_SET_KEEPCAPS: keep the permitted set across a uid change."""
    prctl(abi.PR_SET_KEEPCAPS, int(on))


def capbset_read(cap: int) -> bool:
    """PR_CAPBSET_READ."""
    return prctl(abi.PR_CAPBSET_READ, cap) == 1


def capbset_drop_each(caps: Iterable[int]) -> None:
    """PR_CAPBSET_DROP for each of `caps`, skipping the ones this kernel does not know (EINVAL)."""
    call = LIBC.prctl
    for cap in caps:
        if call(abi.PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 and ctypes.get_errno() != errno.EINVAL:
            check(-1, f"prctl(PR_CAPBSET_DROP, {cap})")


def ambient_clear() -> None:
    """PR_CAP_AMBIENT_CLEAR_ALL."""
    prctl(abi.PR_CAP_AMBIENT, abi.PR_CAP_AMBIENT_CLEAR_ALL)


def ambient_raise(cap: int) -> None:
    """PR_CAP_AMBIENT_RAISE."""
    prctl(abi.PR_CAP_AMBIENT, abi.PR_CAP_AMBIENT_RAISE, cap)


def set_name(name: bytes) -> None:
    """This process's comm (what ps and /proc/PID/comm show); PR_SET_NAME's effect, without a ctypes buffer."""
    try:
        fd = os.open("/proc/self/comm", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.write(fd, name)
    except OSError:
        pass
    finally:
        os.close(fd)
