"""set_default_action reaches the signals glibc keeps for itself (an ignored 32 or 33 would survive execve)."""

from __future__ import annotations

import ctypes
import os

from berth.kernel import abi
from berth.kernel.signals import LIBC_RESERVED, set_default_action

_IGNORE = (1).to_bytes(8, "little") + bytes(24)  # struct kernel_sigaction with handler SIG_IGN


def _ignored_mask() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("SigIgn:"))


def test_reserved_signals_ignored_then_set_back_to_default() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            for sig in LIBC_RESERVED:
                libc.syscall(abi.SYS_RT_SIGACTION, sig, _IGNORE, None, 8)
            before = _ignored_mask()
            for sig in LIBC_RESERVED:
                set_default_action(sig)
            os.write(w, f"{before} {_ignored_mask()}".encode())
        finally:
            os._exit(0)
    os.close(w)
    before, after = map(int, os.read(r, 100).split())
    os.close(r)
    os.waitpid(pid, 0)
    bits = sum(1 << (sig - 1) for sig in LIBC_RESERVED)
    assert before & bits == bits
    assert after & bits == 0
