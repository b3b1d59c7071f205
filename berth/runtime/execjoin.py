"""A process started inside a running container with one fork (runtime layer): exec's mechanism.

The parent points the pid namespace of its children at the container's (setns on CLONE_NEWPID moves only
pid_for_children), forks, and points it back at its own; the child, already in the container's pid namespace,
moves itself into the container's cgroups, joins its other namespaces (mount and user last) and goes on as
`run_exec_process`. Then the parent reads the sync pipe until it closes on the process's exec, or an error
comes.
"""

from __future__ import annotations

import os
import signal

from berth.kernel import abi
from berth.kernel.caps import last_cap
from berth.kernel.ns import setns
from berth.kernel.prctl import set_dumpable
from berth.kernel.signals import ignored_signals
from berth.runtime import sync
from berth.runtime.errors import RuntimeFailure
from berth.runtime.init import own_oom_score_adj, run_exec_process

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    import socket
    from typing import Any

    from berth.runtime.cgroups import Cgroups
    from berth.seccomp.filter import Filter

__all__ = ["ExecTarget", "Held", "close_all_but", "kill_and_reap", "unreaped_child"]

# the mount namespace late, so host paths (cgroupfs) stay reachable until then; the user namespace last,
# because joining it first would cost the host privileges needed to enter namespaces the host owns
_JOIN_ORDER = ("ipc", "uts", "net", "cgroup", "time", "mnt", "user")
_FLAGS = {name: flag for flag, name in abi.NAMESPACES.values()}


def _open_if_other(init_pid: int, name: str) -> int:
    """An fd on the namespace `name` of `init_pid`, or -1 when it is ours too (or the kernel has no such kind)."""
    try:
        if os.stat(f"/proc/{init_pid}/ns/{name}").st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
            return -1
        return os.open(f"/proc/{init_pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{init_pid}"):
            raise RuntimeFailure("container is not running") from None
        return -1


class ExecTarget:
    """A running container as exec'd processes join it: its namespaces (held open), cgroups, seccomp filter."""

    __slots__ = ("cgroups", "joins", "last_cap", "oom_score_adj", "own_pidns", "pidns", "seccomp")

    def __init__(self, init_pid: int, cgroups: Cgroups | None, seccomp: Filter | None) -> None:
        self.cgroups = cgroups if cgroups is not None and cgroups.dirs else None
        self.seccomp = seccomp  # its program already in C memory (runtime.seccomp.prepare): children only load it
        self.last_cap = last_cap()
        self.oom_score_adj = own_oom_score_adj()  # what our children start with
        self.joins: list[tuple[int, int]] = []
        self.pidns = self.own_pidns = -1
        try:
            self.pidns = _open_if_other(init_pid, "pid")
            if self.pidns >= 0:
                self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            for name in _JOIN_ORDER:
                fd = _open_if_other(init_pid, name)
                if fd >= 0:
                    self.joins.append((fd, _FLAGS[name]))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for fd in [self.pidns, self.own_pidns, *(fd for fd, _ in self.joins)]:
            if fd >= 0:
                os.close(fd)
        self.pidns = self.own_pidns = -1
        self.joins = []

    def spawn(self, process: dict[str, Any], console: socket.socket | None = None, preserve_fds: int = 0,
              stdio: tuple[int, int, int] | None = None) -> int:
        """Start `process` in the container; its pid (in our pid namespace) once it has exec'd.

        `stdio`: the fds the process gets as 0-2, every other fd closed; without it, it inherits ours (and
        `preserve_fds` more)."""
        return self.start(process, console, preserve_fds, stdio).launch()

    def start(self, process: dict[str, Any], console: socket.socket | None = None, preserve_fds: int = 0,
              stdio: tuple[int, int, int] | None = None, held: bool = False) -> Held:
        """Fork `process` into the container, where it sets itself up (cgroups, namespaces, user, capabilities,
        seccomp); `launch` waits for its exec. `held`: it then waits before its execve until `launch` lets it
        go, or `discard` kills it."""
        parent, child = sync.pair()
        ignored = ignored_signals()
        try:
            pid = self._fork()
        except BaseException:
            parent.close()
            child.close()
            raise
        if pid == 0:
            parent.close()
            self._child(child, process, console, preserve_fds, stdio, ignored, held)
        child.close()
        return Held(pid, parent, held)

    def _fork(self) -> int:
        if self.pidns < 0:
            return os.fork()
        try:
            setns(self.pidns, abi.CLONE_NEWPID)
        except OSError:
            raise RuntimeFailure("container is not running") from None
        try:
            pid = os.fork()  # ENOMEM once the container's init has died: its pid namespace takes no one
        except OSError as e:
            setns(self.own_pidns, abi.CLONE_NEWPID)
            raise RuntimeFailure(f"cannot start a process in the container: {e}") from None
        if pid:
            setns(self.own_pidns, abi.CLONE_NEWPID)  # the child is in the container's: it cannot go back
        return pid

    def _child(self, ch: sync.Channel, process: dict[str, Any], console: socket.socket | None,
               preserve_fds: int, stdio: tuple[int, int, int] | None, ignored: tuple[int, ...],
               held: bool) -> None:
        try:
            set_dumpable(False)  # in the container's pid namespace already: its processes must not read our memory
            if self.cgroups is not None:
                try:
                    self.cgroups.add(0)  # "0": the writer; from the host's cgroup and mount namespaces, still ours
                except OSError as e:
                    raise RuntimeFailure(f"cannot move the process into the container's cgroups: {e}") from None
            if stdio is not None:
                for target, fd in enumerate(stdio):
                    os.dup2(fd, target)
                keep = {ch.rfd, ch.wfd, *(fd for fd, _ in self.joins)}
                close_all_but(3, keep | ({console.fileno()} if console is not None else set()))
            for fd, flag in self.joins:
                setns(fd, flag)
            if process.get("oomScoreAdj") == self.oom_score_adj:
                process = {**process, "oomScoreAdj": None}  # inherited already: no write needed
        except BaseException as e:
            try:
                ch.send(error=str(e) or e.__class__.__name__)
            finally:
                os._exit(1)
        run_exec_process(ch, process, console, self.last_cap, preserve_fds, self.seccomp, ignored, held)
        os._exit(1)


class Held:
    """A process forked into a container by `ExecTarget.start`, before its exec (`held`: until it is told to go)."""

    __slots__ = ("channel", "held", "pid")

    def __init__(self, pid: int, channel: sync.Channel, held: bool) -> None:
        self.pid = pid
        self.channel = channel
        self.held = held

    def launch(self) -> int:
        """Let it exec; its pid once it has, RuntimeFailure (and it is reaped) if it failed."""
        try:
            if self.held:
                try:
                    self.channel.send(go=True)
                except BrokenPipeError:  # it failed, or was killed, before its go: its message (if any) says why
                    pass
            msg = self.channel.recv()  # None once the process has exec'd (the pipes close on exec)
        except BaseException:
            kill_and_reap(self.pid)
            raise
        finally:
            self.channel.close()
        if msg is not None:
            kill_and_reap(self.pid)
            raise RuntimeFailure(str(msg.get("error") or "exec failed"))
        return self.pid

    def close(self) -> None:
        """Forget it (it is gone already)."""
        self.channel.close()

    def discard(self) -> None:
        """Kill and reap it (it has not exec'd: nothing of the container's has run)."""
        self.channel.close()
        kill_and_reap(self.pid)


def unreaped_child(pid: int) -> bool:
    """Whether `pid` is a child of ours not reaped yet (running or a zombie): then no other process has its pid."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def close_all_but(first: int, keep: set[int]) -> None:
    """Close every fd from `first` up except those in `keep`."""
    low = first
    for fd in sorted(k for k in keep if k >= first):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def kill_and_reap(pid: int) -> None:
    """Kill and reap our child `pid`; nothing when it has been reaped already (its pid may be another's now)."""
    if not unreaped_child(pid):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
