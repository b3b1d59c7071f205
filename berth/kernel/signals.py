"""Signal actions (kernel layer): which signals are ignored, and the default action for the two glibc keeps."""

from __future__ import annotations

import ctypes
import signal

from berth.kernel import abi
from berth.kernel.libc import syscall

__all__ = ["LIBC_RESERVED", "ignored_signals", "set_default_action"]

LIBC_RESERVED = (32, 33)  # SIGCANCEL and SIGSETXID: glibc's sigaction() refuses them, yet they can be inherited ignored
_DEFAULT_ACTION = bytes(32)  # struct kernel_sigaction: handler SIG_DFL, no flags, no restorer, empty mask


def set_default_action(sig: int) -> None:
    """rt_sigaction(sig, SIG_DFL), straight to the kernel."""
    syscall(abi.SYS_RT_SIGACTION, sig, _DEFAULT_ACTION, None, 8)


def ignored_signals() -> tuple[int, ...]:
    """The signals this process ignores: the only actions execve keeps (it resets caught ones to default)."""
    out = [sig for sig in range(1, signal.NSIG)
           if sig not in (signal.SIGKILL, signal.SIGSTOP, *LIBC_RESERVED) and signal.getsignal(sig) == signal.SIG_IGN]
    old = ctypes.create_string_buffer(32)
    for sig in LIBC_RESERVED:  # invisible to Python: ask the kernel
        syscall(abi.SYS_RT_SIGACTION, sig, None, ctypes.cast(old, ctypes.c_void_p), 8)
        if int.from_bytes(old.raw[:8], "little") == int(signal.SIG_IGN):
            out.append(sig)
    return tuple(out)
