"""Mounts (kernel layer): mount, umount2, pivot_root."""

from __future__ import annotations

import os

from berth.kernel import abi
from berth.kernel.libc import LIBC, check, syscall

__all__ = ["mount", "pivot_root", "umount2"]


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2); `data` is the filesystem-specific option string."""
    rc = LIBC.mount(_b(source), _b(target), _b(fstype), flags, _b(data) if data else None)
    check(rc, f"mount {source} on {target} ({fstype}, {flags:#x}, {data})", target)


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    check(LIBC.umount2(_b(target), flags), f"umount {target}", target)


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2)."""
    syscall(abi.SYS_PIVOT_ROOT, _b(new_root), _b(put_old))
