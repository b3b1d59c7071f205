"""Foreground waiting (runtime layer): reap as a subreaper, forward signals, map the exit status."""

from __future__ import annotations

import os
import signal

from berth.kernel import prctl

__all__ = ["become_subreaper", "wait_for"]

_FORWARDED = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
    signal.SIGCONT,
    signal.SIGALRM,
)


def become_subreaper() -> None:
    """Orphaned descendants (the container process, once the intermediate exits) come back to us."""
    prctl.set_child_subreaper(True)


def exit_code(status: int) -> int:
    """A wait status as a shell exit code (128+signal when killed)."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def wait_for(pid: int) -> int:
    """Forward signals to `pid` and reap children until it exits; its exit code."""

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255
        if got == pid:
            return exit_code(status)
