"""The container's teardown (shim layer): `runtime delete --force`, begun in the background once init has exited.

The daemon deletes a container as soon as it learns that its init exited; the shim begins that very delete
when init exits, so the daemon's request finds the cgroups and the runtime state gone already (or nearly).
The same delete runs synchronously when the daemon asks first, or when the background one failed (so that
its error reaches the daemon). With Berth's own runtime, when the container's processes are all gone and no
poststop hook waits (the usual end of a container in its own pid namespace), the shim does the delete itself
at once, with no process: the cgroups' rmdir and the state's removal cannot block.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from berth.shim.runtime import Runtime, RuntimeError_, last_error

__all__ = ["Teardown"]

Done = Callable[[Exception | None], None]


class Teardown:
    """One container's `delete --force`: idle, running in the background, or done."""

    __slots__ = ("args", "cid", "done", "errfile", "pid", "runtime", "waiting")

    def __init__(self, runtime: Runtime, cid: str, errfile: str) -> None:
        self.runtime = runtime
        self.cid = cid
        self.args = ["delete", "--force", cid]
        self.errfile = errfile
        self.pid = 0
        self.done = False
        self.waiting: list[Done] = []

    def begin(self) -> int:
        """Start the delete in the background; its pid (the caller watches it and calls `reaped`), or 0 (done
        already: at once, in this process, when nothing in it could block)."""
        if self.done or self.pid:
            return 0
        if self.runtime.delete_here(self.cid):
            self.done = True
            return 0
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        err = os.open(self.errfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            self.pid = self.runtime.spawn(self.args, (null, null, err))
        finally:
            os.close(null)
            os.close(err)
        return self.pid

    def reaped(self, pid: int, status: int) -> bool:
        """`pid` was reaped with `status`: True when it was the background delete (then waiters are told)."""
        if not pid or pid != self.pid:
            return False
        self.pid = 0
        self.done = os.waitstatus_to_exitcode(status) == 0
        waiting, self.waiting = self.waiting, []
        for then in waiting:
            self.when_done(then)
        return True

    def when_done(self, then: Done) -> None:
        """`then(None)` once the container is deleted, or `then(error)`; at once unless a background delete runs."""
        if self.pid:
            self.waiting.append(then)
            return
        if not self.done:
            try:
                self.runtime.run(self.args)
            except (RuntimeError_, OSError) as exc:
                then(exc)
                return
            self.done = True
        then(None)

    def error_text(self) -> str:
        """What the last background delete said on stderr (for the shim's log)."""
        try:
            with open(self.errfile, errors="replace") as f:
                return last_error(f.read())
        except OSError:
            return ""
