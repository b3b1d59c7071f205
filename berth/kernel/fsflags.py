"""Inode flags (kernel layer): FS_IOC_GETFLAGS / FS_IOC_SETFLAGS, as chattr sets them."""

from __future__ import annotations

import array
import fcntl
import os

__all__ = ["FS_TOPDIR_FL", "get_flags", "set_flag"]

FS_TOPDIR_FL = 0x00020000  # chattr +T: "top of directory hierarchies" for ext2/3/4's Orlov allocator

_LONG = array.array("l").itemsize
# _IOR('f', 1, long) and _IOW('f', 2, long) with the generic ioctl encoding (x86, arm, riscv)
_FS_IOC_GETFLAGS = (2 << 30) | (_LONG << 16) | (ord("f") << 8) | 1
_FS_IOC_SETFLAGS = (1 << 30) | (_LONG << 16) | (ord("f") << 8) | 2


def get_flags(path: str) -> int:
    """The inode flags of `path`; OSError (ENOTTY, EOPNOTSUPP) where the filesystem has none."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        buf = array.array("l", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf, True)
        return buf[0] & 0xFFFFFFFF
    finally:
        os.close(fd)


def set_flag(path: str, flag: int) -> None:
    """Add `flag` to the inode flags of `path` (a no-op when it is set); OSError where not supported."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        buf = array.array("l", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf, True)
        if buf[0] & flag:
            return
        buf[0] |= flag
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, buf, False)
    finally:
        os.close(fd)
