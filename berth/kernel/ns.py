"""Namespaces (kernel layer): unshare and setns."""

from __future__ import annotations

from berth.kernel.libc import LIBC, check

__all__ = ["setns", "unshare"]


def unshare(flags: int) -> None:
    """unshare(2) the namespaces in `flags` (CLONE_NEW*)."""
    check(LIBC.unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2): join the namespace open on `fd`."""
    check(LIBC.setns(fd, nstype), f"setns({nstype:#x})")
