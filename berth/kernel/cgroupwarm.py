"""Keeps the kernel's fast path for cgroup migrations open while containers start (kernel layer).

Moving a process into a cgroup takes a global rwsem for writing. When no migration ran lately the kernel
first waits for an RCU grace period (9-20 ms on the development VM), and every container start and exec
paid it. A migration of a process into the cgroup it is already in moves nothing but goes through that
wait; done as a request arrives, it has the wait over by the time the runtime moves the container's
process. The fast path closes again a grace period or two after the last migration, so the no-op move is
repeated every few ms for a while after each request: the window stays open until the runtime's move,
however long the grace periods are.

The zygote runs the window in its poll loop: a process of one thread, so a move costs a few tens of us and
takes no lock from the daemon (from a thread of the daemon, with its GIL hand-offs, it cost ten times that).
The daemon pokes it as requests arrive. Where the host mounts cgroups with `favordynmods`, the kernel keeps
the fast path open by itself and there is nothing to do. Some kernels never make a move wait at all (a 6.18 VM
here moved in 0.1-0.2 ms after a second of quiet): the first move after a quiet spell is timed, and when it did
not wait, the window stays shut for a while instead of costing ~1 ms of CPU per request for nothing.
"""

from __future__ import annotations

import os
import time

from berth.kernel.features import CgroupMount, cgroup_mounts, own_procs_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["HOLD", "IDLE", "QUIET", "REPEAT", "SLOW", "MigrationWindow", "kernel_keeps_it_open"]

HOLD = 0.15  # seconds the window is held open after a poke (a start's move comes 10-40 ms after its create)
REPEAT = 0.003  # below the shortest grace period seen here
IDLE = 0.5  # since our last move: the fast path has closed by then, on a kernel that closes it
SLOW = 0.002  # a move that took longer waited for a grace period (a move that did not takes ~0.1-0.2 ms)
QUIET = 5.0  # after a move that had been idle for IDLE did not wait: pokes do nothing for this long


def kernel_keeps_it_open(mounts: list[CgroupMount]) -> bool:
    """True when a cgroup hierarchy is mounted with `favordynmods`: migrations never wait for a grace period."""
    return any("favordynmods" in m.options for m in mounts)


class MigrationWindow:
    """After each `poke`, a no-op migration of this process is due every REPEAT seconds until HOLD has passed;
    unless the first migration after IDLE seconds without one showed that the kernel does not make moves wait.

    `clock` times the migrations (the times given to `poke` and `run_due` are the caller's)."""

    def __init__(self, procs_file: str | None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.procs_file = procs_file
        self.clock = clock
        self.until = 0.0  # 0: closed
        self.next = 0.0
        self.primed = 0  # migrations done
        self.last = float("-inf")  # when the last one was done
        self.probing = False  # the next migration is the first after IDLE: it tells whether moves wait
        self.quiet_until = 0.0

    @classmethod
    def for_this_process(cls) -> MigrationWindow:
        """The window on our own cgroup; an inert one where the kernel needs none or shows no cgroup of ours."""
        try:
            mounts = cgroup_mounts()
            if kernel_keeps_it_open(mounts):
                return cls(None)
            with open("/proc/self/cgroup") as f:
                return cls(own_procs_file(f.read(), mounts))
        except OSError:
            return cls(None)

    def poke(self, now: float) -> None:
        """A request came: a migration is due at once, and the window stays open for HOLD seconds."""
        if self.procs_file is None or now < self.quiet_until:
            return
        if self.until == 0.0:
            self.next = now
            self.probing = now - self.last >= IDLE
        self.until = now + HOLD

    def timeout(self, now: float) -> float | None:
        """Seconds until the next migration is due; None while the window is closed."""
        if self.until == 0.0:
            return None
        return max(0.0, self.next - now)

    def run_due(self, now: float) -> None:
        """Migrate if one is due; close the window once HOLD has passed."""
        if self.until == 0.0 or now < self.next:
            return
        if now > self.until:
            self.until = 0.0
            return
        self.next = now + REPEAT
        took = self._migrate()
        self.last = now
        if self.probing:
            self.probing = False
            if took is not None and took < SLOW:  # nothing to hold open: this kernel's moves do not wait
                self.until = 0.0
                self.quiet_until = now + QUIET

    def _migrate(self) -> float | None:
        """Move this process into its own cgroup; the seconds it took, None when the kernel refused."""
        if self.procs_file is None:
            return None
        try:
            start = self.clock()
            fd = os.open(self.procs_file, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
            self.primed += 1
            return self.clock() - start
        except OSError:  # not ours to write (a foreign cgroup namespace, a read-only cgroupfs): stop trying
            self.procs_file = None
            self.until = 0.0
            return None
