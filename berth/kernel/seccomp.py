"""seccomp(2) filter loading (kernel layer): a classic BPF program installed on the calling thread."""

from __future__ import annotations

import ctypes

from berth.kernel import abi
from berth.kernel.libc import LIBC, check

__all__ = ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "Program", "load_filter", "mode"]

SYS_SECCOMP = 317  # x86_64
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Program:
    """A filter program as the kernel takes it (struct sock_fprog), built before a fork: children that load
    it allocate nothing, so they copy fewer of the parent's pages."""

    __slots__ = ("_buf", "_fprog", "pointer")

    def __init__(self, program: bytes) -> None:
        self._buf = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.cast(self._buf, ctypes.c_void_p))
        self.pointer = ctypes.c_void_p(ctypes.addressof(self._fprog))


def load_filter(program: bytes | Program, flags: int = 0) -> None:
    """Install `program` (struct sock_filter[]); needs no_new_privs or CAP_SYS_ADMIN.

    Without flags this is prctl(PR_SET_SECCOMP), else seccomp(SECCOMP_SET_MODE_FILTER, flags); a kernel
    that does not know SPEC_ALLOW (EINVAL) gets the filter without it.
    """
    prog = program if isinstance(program, Program) else Program(program)
    ptr = prog.pointer
    if flags:
        rc = LIBC.syscall(ctypes.c_long(SYS_SECCOMP), ctypes.c_ulong(SECCOMP_SET_MODE_FILTER),
                          ctypes.c_ulong(flags), ptr)
        if rc == 0:
            return
        if ctypes.get_errno() != 22 or not flags & SECCOMP_FILTER_FLAG_SPEC_ALLOW:
            check(rc, "seccomp(SECCOMP_SET_MODE_FILTER)")
        flags &= ~SECCOMP_FILTER_FLAG_SPEC_ALLOW
        if flags:
            return load_filter(prog, flags)
    check(LIBC.prctl(abi.PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ptr.value or 0, 0, 0), "prctl(PR_SET_SECCOMP)")


def mode(status_path: str = "/proc/self/status") -> int:
    """The Seccomp: field of /proc/self/status (0 none, 1 strict, 2 filter)."""
    with open(status_path) as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return 0
