"""The libc handle and checked raw calls (kernel layer): every failure raises OSError(errno)."""

from __future__ import annotations

import ctypes
import os

__all__ = ["LIBC", "check", "syscall"]

# find_library must never run (it forks /sbin/ldconfig); the soname is stable on glibc systems.
LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
LIBC.syscall.restype = ctypes.c_long
LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
LIBC.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
LIBC.unshare.argtypes = [ctypes.c_int]
LIBC.setns.argtypes = [ctypes.c_int, ctypes.c_int]
LIBC.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
LIBC.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
LIBC.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
LIBC.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def check(rc: int, what: str, path: str | None = None) -> int:
    """Raise OSError with errno and a note naming the call when `rc` is negative."""
    if rc < 0:
        err = ctypes.get_errno()
        exc = OSError(err, f"{what}: {os.strerror(err)}", path) if path else OSError(err, f"{what}: {os.strerror(err)}")
        raise exc
    return rc


def syscall(nr: int, *args: int | bytes | ctypes.c_void_p | ctypes.c_uint | None) -> int:
    """A raw syscall by number, checked."""
    return check(LIBC.syscall(ctypes.c_long(nr), *args), f"syscall {nr}")
