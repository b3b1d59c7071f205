"""Small process and file helpers of the shim (shim layer): its own log, pid files, waiting, removal."""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable

from berth.shim.jsonlog import rfc3339nano
from berth.shim.procs import Proc

__all__ = ["note", "read_pid", "remove_tree", "unlink", "wait_exit"]


def note(msg: str) -> None:
    """A line in the shim's own log (its stderr is SHIMDIR/shim.log)."""
    try:
        os.write(2, f"{rfc3339nano(time.time_ns())} {msg}\n".encode())
    except OSError:
        pass


def read_pid(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())


def unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def wait_exit(proc: Proc, timeout: float) -> None:
    """Block until `proc` (our child) exits or `timeout` passes; record its status."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except ProcessLookupError:
        return
    try:
        select.select([pidfd], [], [], timeout)
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            proc.exited(status)
    except ChildProcessError:
        pass
    finally:
        os.close(pidfd)


def remove_tree(path: str) -> None:
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            remove_tree(entry.path)
        else:
            unlink(entry.path)
    try:
        os.rmdir(path)
    except OSError as exc:
        note(f"cannot remove {path}: {exc}")


def child_outcome(body: Callable[[], int]) -> int:
    """Run the body of a forked child: its exit code (a SystemExit's code; 1 with a traceback on stderr for
    anything else), with stdout and stderr flushed, ready for os._exit."""
    code = 1
    try:
        code = body()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # a bug: say it where the child's errors go
        try:
            import traceback

            traceback.print_exc()
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            pass
    return code
