"""Signal actions: which are ignored (all execve keeps), and set_default_action reaching the two glibc keeps."""

from __future__ import annotations

import ctypes
import os
import signal

from berth.kernel import abi
from berth.kernel.signals import LIBC_RESERVED, ignored_signals, set_default_action

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


def test_ignored_signals_lists_ignored_ones_also_those_python_cannot_see() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            for sig in ignored_signals():  # a clean slate, whatever pytest's parent left ignored
                if sig in LIBC_RESERVED:
                    set_default_action(sig)
                else:
                    signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
            signal.signal(signal.SIGUSR2, lambda *_: None)  # caught: execve resets it, nothing to list
            ctypes.CDLL(None, use_errno=True).syscall(abi.SYS_RT_SIGACTION, 33, _IGNORE, None, 8)
            os.write(w, " ".join(map(str, ignored_signals())).encode())
        finally:
            os._exit(0)
    os.close(w)
    listed = os.read(r, 100).split()
    os.close(r)
    os.waitpid(pid, 0)
    assert sorted(map(int, listed)) == sorted([int(signal.SIGUSR1), 33])
