"""Opens the kernel's fast path for cgroup migrations shortly before a container needs one (kernel layer).

Moving a process into a cgroup takes a global rwsem for writing. When no migration ran lately the kernel
first waits for an RCU grace period (9-20 ms on the development VM), and every container start and exec
paid it. A migration of our own process into the cgroup it is already in moves nothing but goes through
that wait; run on a thread as a request arrives, it has the wait over by the time the runtime moves the
container's process. The fast path closes again one grace period (5-20 ms) after the last migration, so the
thread repeats its no-op move every few ms for a while after each request: the window stays open until the
runtime's move, however long the grace periods are.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from berth.kernel.features import cgroup_mounts, own_procs_file

__all__ = ["MigrationPrimer"]

HOLD = 0.15  # seconds the window is held open after a request (a start's move comes 10-40 ms after its create)
REPEAT = 0.003  # below the shortest grace period seen here

log = logging.getLogger(__name__)


class MigrationPrimer:
    """One thread that, after each `prime()`, writes our pid to our own cgroup.procs every few ms for a while."""

    def __init__(self, procs_file: str | None) -> None:
        self.procs_file = procs_file
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.primed = 0  # migrations done, for tests and the debug log

    @classmethod
    def for_this_process(cls) -> MigrationPrimer:
        try:
            with open("/proc/self/cgroup") as f:
                return cls(own_procs_file(f.read(), cgroup_mounts()))
        except OSError:
            return cls(None)

    def prime(self) -> None:
        """Ask for a migration soon; returns at once."""
        if self.procs_file is None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="cgroup-primer", daemon=True)
                self._thread.start()
        self._wanted.set()

    def _loop(self) -> None:
        until = 0.0
        while self.procs_file is not None:
            if self._wanted.wait(None if until == 0.0 else REPEAT):
                self._wanted.clear()
                until = time.monotonic() + HOLD
            elif time.monotonic() > until:
                until = 0.0
                continue
            self._migrate(self.procs_file)

    def _migrate(self, procs_file: str) -> None:
        try:
            fd = os.open(procs_file, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
            self.primed += 1
        except OSError as exc:
            log.debug("cgroup migration priming disabled (%s: %s)", procs_file, exc)
            self.procs_file = None
