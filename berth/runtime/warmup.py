"""Cgroup lock warm-up (runtime layer): start the first migration's RCU wait early, in a throwaway child.

The first write to any cgroup.procs after a quiet period waits for an RCU grace period (the global
cgroup_threadgroup_rwsem switching to its writer mode): ~10 ms here. A child that rewrites its own
cgroup ("0" = the writer, a no-op move) at the start of exec pays that wait while the runtime prepares
the process; the real moves that follow find the lock warm. Not for create/run: the kernel holds its
cgroup mutex through that wait, which would stall the container's cgroup mkdirs (create overlaps the
wait with the init's work instead, see process._ladder).
"""

from __future__ import annotations

import os

from berth.kernel.features import cgroup_mounts, own_procs_file

__all__ = ["start_warmup"]


def _own_cgroup_procs() -> str | None:
    with open("/proc/self/cgroup") as f:
        return own_procs_file(f.read(), cgroup_mounts())


def start_warmup() -> int:
    """Fork the warm-up child; returns its pid (reap it later), or 0."""
    pid = os.fork()
    if pid == 0:
        try:
            procs = _own_cgroup_procs()
            if procs:
                with open(procs, "w") as f:
                    f.write("0")
        except BaseException:
            pass
        finally:
            os._exit(0)
    return pid


def reap_warmup(pid: int) -> None:
    """Collect the warm-up child."""
    if pid:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
