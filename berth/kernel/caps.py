"""Capabilities (kernel layer): names, numbers, capget/capset v3."""

from __future__ import annotations

import ctypes

from berth.kernel import abi
from berth.kernel.libc import LIBC, check

__all__ = ["CAP_NAMES", "CapSets", "capget", "capset", "last_cap"]

CAP_NAMES: tuple[str, ...] = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class CapSets(ctypes.Structure):
    """Effective, permitted and inheritable sets as 64-bit masks."""

    _fields_ = [
        ("effective", ctypes.c_uint64),
        ("permitted", ctypes.c_uint64),
        ("inheritable", ctypes.c_uint64),
    ]


def last_cap() -> int:
    """The highest capability number this kernel knows."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def capget(pid: int = 0) -> CapSets:
    """capget(2) v3 for `pid` (0 = self)."""
    hdr = _Header(abi.LINUX_CAPABILITY_VERSION_3, pid)
    data = (_Data * 2)()
    check(LIBC.syscall(ctypes.c_long(abi.SYS_CAPGET), ctypes.byref(hdr), ctypes.byref(data)), "capget")
    out = CapSets()
    for name in ("effective", "permitted", "inheritable"):
        setattr(out, name, getattr(data[0], name) | (getattr(data[1], name) << 32))
    return out


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) v3 on the calling thread."""
    hdr = _Header(abi.LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for i in (0, 1):
        data[i].effective = (effective >> (32 * i)) & 0xFFFFFFFF
        data[i].permitted = (permitted >> (32 * i)) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> (32 * i)) & 0xFFFFFFFF
    check(LIBC.syscall(ctypes.c_long(abi.SYS_CAPSET), ctypes.byref(hdr), ctypes.byref(data)), "capset")
