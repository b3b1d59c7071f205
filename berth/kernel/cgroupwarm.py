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
the fast path open by itself and there is nothing to do.
"""

from __future__ import annotations

import os

from berth.kernel.features import CgroupMount, cgroup_mounts, own_procs_file

__all__ = ["HOLD", "REPEAT", "MigrationWindow", "kernel_keeps_it_open"]

HOLD = 0.15  # seconds the window is held open after a poke (a start's move comes 10-40 ms after its create)
REPEAT = 0.003  # below the shortest grace period seen here


def kernel_keeps_it_open(mounts: list[CgroupMount]) -> bool:
    """True when a cgroup hierarchy is mounted with `favordynmods`: migrations never wait for a grace period."""
    return any("favordynmods" in m.options for m in mounts)


class MigrationWindow:
    """After each `poke`, a no-op migration of this process is due every REPEAT seconds until HOLD has passed."""

    def __init__(self, procs_file: str | None) -> None:
        self.procs_file = procs_file
        self.until = 0.0  # 0: closed
        self.next = 0.0
        self.primed = 0  # migrations done

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
        if self.procs_file is not None:
            if self.until == 0.0:
                self.next = now
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
        self._migrate()

    def _migrate(self) -> None:
        if self.procs_file is None:
            return
        try:
            fd = os.open(self.procs_file, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
            self.primed += 1
        except OSError:  # not ours to write (a foreign cgroup namespace, a read-only cgroupfs): stop trying
            self.procs_file = None
            self.until = 0.0
