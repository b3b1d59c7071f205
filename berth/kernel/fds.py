"""File descriptors a process hands over to an exec (kernel layer): marking a whole range close-on-exec."""

from __future__ import annotations

import ctypes
import errno
import os

from berth.kernel import abi
from berth.kernel.libc import syscall

__all__ = ["cloexec_from"]

_ALL = ctypes.c_uint(0xFFFFFFFF)


def cloexec_from(first: int) -> None:
    """Every fd from `first` up closes on exec; one close_range call where the kernel has it (5.11+)."""
    try:
        syscall(abi.SYS_CLOSE_RANGE, ctypes.c_uint(first), _ALL, ctypes.c_uint(abi.CLOSE_RANGE_CLOEXEC))
        return
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EINVAL, errno.EPERM):  # old kernel, or a seccomp filter
            raise
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc here
        fds = list(range(first, 1024))
    for fd in fds:
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
