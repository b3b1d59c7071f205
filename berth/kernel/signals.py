"""Signal actions the C library will not set (kernel layer): glibc keeps signals 32 and 33 for itself."""

from __future__ import annotations

from berth.kernel import abi
from berth.kernel.libc import syscall

__all__ = ["LIBC_RESERVED", "set_default_action"]

LIBC_RESERVED = (32, 33)  # SIGCANCEL and SIGSETXID: glibc's sigaction() refuses them, yet they can be inherited ignored
_DEFAULT_ACTION = bytes(32)  # struct kernel_sigaction: handler SIG_DFL, no flags, no restorer, empty mask


def set_default_action(sig: int) -> None:
    """rt_sigaction(sig, SIG_DFL), straight to the kernel."""
    syscall(abi.SYS_RT_SIGACTION, sig, _DEFAULT_ACTION, None, 8)
