"""Berth's own runtime run in a forked child of the shim (shim layer): a runtime command without a new interpreter.

The shim is single-threaded, so a fork is a clean copy; the child takes the given stdio as fds 0-2, closes
every other fd (a spawned runtime inherits nothing else either), runs `berth.runtime.cli.main(argv)` and
`os._exit`s with its code.
"""

from __future__ import annotations

import os
import sys

from berth.runtime.errors import RuntimeFailure
from berth.shim.sysutil import child_outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.runtime.execjoin import ExecTarget, Held
    from berth.runtime.execspare import Spare

__all__ = ["HERE", "RuntimeFailure", "delete_if_quick", "exec_in", "exec_target", "fork_runtime", "fork_spare",
           "own_runtime_args", "preload", "run_here", "spare_suits"]

# Commands that run in the shim's own process: `start` only opens the exec fifo and reads one byte (then
# poststart hooks), nothing a fork would protect the shim from; a fork, an exit and a wait cost more than that.
HERE = frozenset(("start",))

_MODULE = "berth.runtime"
_PRELOADED = (
    "berth.runtime.cli", "berth.runtime.commands", "berth.runtime.process", "berth.runtime.execcmd",
    "berth.runtime.execjoin", "berth.runtime.execspare", "berth.runtime.console", "berth.runtime.hooks",
    "berth.runtime.waiting", "berth.runtime.state",
    "berth.runtime.init", "berth.runtime.rootfs", "berth.runtime.cgroups", "berth.runtime.cgroups.devices",
    "berth.runtime.sysctls", "berth.runtime.seccomp", "berth.runtime.ttyproxy", "berth.runtime.warmup",
    "berth.seccomp.cache",
    "berth.seccomp.filter", "berth.util.atomic", "_json", "_sha256",
)  # fmt: skip


def own_runtime_args(argv: list[str]) -> list[str] | None:
    """The runtime's own arguments when `argv` runs Berth's runtime (`PYTHON [-opts] -m berth.runtime ...`)."""
    for i in range(1, len(argv) - 1):
        if argv[i] == "-m":
            return argv[i + 2:] if argv[i + 1] == _MODULE else None
        if not argv[i].startswith("-") or argv[i] in ("-c", "-W", "-X"):
            return None  # a script, or an option with a value: not our plain module launch
    return None


def preload() -> None:
    """Import what the runtime's commands need, once, before any fork."""
    for name in _PRELOADED:
        __import__(name)


def run_here(argv: list[str], err_fd: int) -> int:
    """Run the runtime with `argv` in this process, its stderr on `err_fd`; returns its exit code."""
    from berth.runtime.cli import main

    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    saved = os.dup(2)
    try:
        os.dup2(err_fd, 2)
        try:
            return main(argv)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        finally:
            if sys.stderr is not None:
                sys.stderr.flush()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def fork_runtime(argv: list[str], stdio: tuple[int, int, int]) -> int:
    """Fork a child that runs the runtime with `argv` on `stdio`; returns its pid (reap it with waitpid)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    pid = os.fork()
    if pid == 0:
        os._exit(_child(argv, stdio))
    return pid


def _child(argv: list[str], stdio: tuple[int, int, int]) -> int:
    def body() -> int:
        import gc

        gc.disable()  # short-lived: no collections, fewer copied pages
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        os.closerange(3, 1 << 20)
        from berth.runtime.cli import main

        return main(argv)

    return child_outcome(body)


def exec_target(own_args: list[str], cid: str) -> ExecTarget:
    """The running container `cid` of the runtime launched with `own_args`, as exec'd processes join it."""
    from berth.runtime.cli import state_root
    from berth.runtime.execcmd import exec_target as target_of
    from berth.runtime.state import Container

    return target_of(Container(state_root(own_args), cid).load())


def delete_if_quick(own_args: list[str], cid: str) -> bool:
    """`delete --force cid` done in this process when it cannot block (berth.runtime.commands.delete_if_quick)."""
    from berth.runtime.cli import state_root
    from berth.runtime.commands import delete_if_quick as quick

    return quick(state_root(own_args), cid)


def exec_in(target: ExecTarget, process: dict[str, object], stdio: tuple[int, int, int] | None,
            console_path: str | None, held: bool) -> Held:
    """`target.start` from the shim: the process gets `stdio`, or a pty whose master goes to `console_path`."""
    from berth.runtime.console import connect_console_socket

    console = connect_console_socket(console_path) if console_path else None
    null = -1
    try:
        if stdio is None:
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            stdio = (null, null, null)  # until the pty's slave takes 0-2
        return target.start(process, console, stdio=stdio, held=held)
    finally:
        if console is not None:
            console.close()
        if null >= 0:
            os.close(null)


def fork_spare(target: ExecTarget, expect: dict[str, object] | None = None) -> Spare:
    """A spare for a later exec in `target`, set up for `expect` if given (berth.runtime.execspare)."""
    from berth.runtime.execspare import Spare

    return Spare(target, expect)


def spare_suits(process: dict[str, object], target: ExecTarget | None = None) -> bool:
    from berth.runtime.execspare import suits

    return suits(process, target)
