"""How the shim starts an exec's process (shim layer): made ready at exec create, spawned by a spare, or afresh."""

from __future__ import annotations

from berth.shim.loop import Loop
from berth.shim.procs import Proc
from berth.shim.runtime import Runtime, RuntimeError_
from berth.shim.stdio import ProcIO
from berth.shim.sysutil import note, read_pid, unlink
from berth.util import minijson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from berth.runtime.execjoin import ExecTarget, Held
    from berth.runtime.execspare import Prepared, Spare

__all__ = ["MAX_READY", "READY_TTL", "SPARE_AFTER", "ExecStarter", "zombie_status"]

READY_TTL = 2.0  # seconds a process made ready at exec create waits for its start before it is killed
MAX_READY = 4  # ready processes a shim keeps at once: a flood of exec creates leaves no crowd behind
SPARE_AFTER = 0.01  # seconds after an exec has ended that the spare for the next is forked (after its client has gone)


class _Ready:
    """An exec's process made ready before its start: forked into the container, set up, held before execve."""

    __slots__ = ("held", "io", "process", "stdin", "timer")

    def __init__(self, held: Held | Prepared, io: ProcIO, process: dict[str, object], stdin: bool) -> None:
        self.held, self.io, self.process, self.stdin = held, io, process, stdin
        self.timer = -1


class ExecStarter:
    """The exec processes of one container up to their start. With Berth's runtime the shim forks them itself:
    made ready at exec create (`prepare`), by a spare forked after the previous exec when execs come in a row,
    else at the start; with another runtime through `runtime exec`.

    `watch(pid, then)` has the shim reap `pid` when it exits; `orphan_exited(pid)` is called when an exec
    whose parent was a spare has exited; `exec_done` is each exec's Proc callback."""

    def __init__(self, loop: Loop, runtime: Runtime, container_id: str, path: Callable[[str], str],
                 watch: Callable[[int, Callable[[], None] | None], None], orphan_exited: Callable[[int], None],
                 exec_done: Callable[[Proc], None]) -> None:
        self.loop = loop
        self.runtime = runtime
        self.container_id = container_id
        self.path = path
        self.watch = watch
        self.orphan_exited = orphan_exited
        self.exec_done = exec_done
        self._ready: dict[str, _Ready] = {}  # by exec id, Berth's runtime only
        self._target: ExecTarget | None = None  # opened at the first exec, closed when init exits
        self._spare: Spare | None = None  # forked after an exec, for the next one (berth.runtime.execspare)
        self._last: dict[str, object] | None = None  # the last exec's process that a spare could start

    @property
    def holds_ready(self) -> bool:
        return bool(self._ready)

    def prepare(self, eid: str, process: dict[str, object], stdin: bool) -> bool:
        """Fork the process and set it up now, so that the start has only to let it exec; False when it cannot
        be (another runtime, or already MAX_READY). It is used only if the start brings the same process; else,
        or when no start comes within READY_TTL, it is killed before it has run anything of the container's."""
        target = None if eid in self._ready or len(self._ready) >= MAX_READY else self._exec_target()
        if target is None:
            return False
        io = ProcIO(bool(process.get("terminal")), stdin, self.path(f"ready-{eid[:12]}.sock"))
        try:
            held: Held | Prepared
            if io.child is not None and self.runtime.spare_suits(process, target):
                self._last = process
                spare, self._spare = self._spare, None
                if spare is not None and not spare.fits(process):
                    spare.discard()
                    spare = None
                held = self.runtime.hand_to_spare(spare or self.runtime.fork_spare(target), process, io.child)
            else:
                held = self.runtime.exec_in(target, process, io.child, io.console.arg if io.console else None,
                                            held=True)
        except BaseException:
            io.close()
            raise
        ready = _Ready(held, io, process, stdin)
        ready.timer = self.loop.call_later(READY_TTL, lambda: self._expire(eid, ready))
        self._ready[eid] = ready
        return True

    def start(self, eid: str, key: str, process: dict[str, object], stdin: bool) -> Proc:
        """The exec's process, started: the ready one when it is the process asked for, else a fresh one."""
        launched = self._launch_ready(eid, process, stdin)
        if launched is not None:
            return launched
        io = ProcIO(bool(process.get("terminal")), stdin, self.path(key + ".sock"))
        try:
            target = self._exec_target()
            if target is not None:  # Berth's runtime: the shim forks the process itself
                if io.child is not None and self.runtime.spare_suits(process):
                    self._last = process
                pid = self.runtime.launch(self.runtime.exec_in(target, process, io.child,
                                                               io.console.arg if io.console else None))
            else:
                pid = self._runtime_exec(key, process, io)
            io.after_spawn()
        except BaseException:
            io.close()
            raise
        self.watch(pid, None)
        return Proc(self.loop, pid, io, None, self.exec_done)

    def exec_ended(self, in_a_row: bool) -> None:
        """An exec has exited: when execs come in a row (a script's, a test's), fork a spare for the next, set up
        for the same process as the last; a lone exec now and then (a healthcheck every 30 s) gets none: its
        worker hands over before the next comes."""
        if in_a_row and self._spare is None and self._target is not None:
            self.loop.call_later(SPARE_AFTER, self._fork_spare)

    def ready_died(self, pid: int) -> None:
        """A ready process was reaped before its start (killed from inside the container): forget it."""
        for eid, ready in list(self._ready.items()):
            if ready.held.pid == pid:
                del self._ready[eid]
                self._discard(ready, alive=False)

    def drop_spare(self) -> None:
        """Kill the spare, if there is one (the worker leaves)."""
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()

    def close(self) -> None:
        """The container has stopped (the end of its pid namespace killed the ready processes) or the shim
        shuts down: discard them and the spare; the container's namespaces must not outlive it."""
        ready, self._ready = list(self._ready.values()), {}
        for r in ready:
            self._discard(r)
        self.drop_spare()
        if self._target is not None:
            self._target.close()
            self._target = None

    def _exec_target(self) -> ExecTarget | None:
        """The running container as Berth's runtime lets the shim exec into it; None with another runtime."""
        if self._target is None:
            self._target = self.runtime.exec_target(self.container_id)
        return self._target

    def _fork_spare(self) -> None:
        if self._spare is not None or self._target is None:
            return
        if not self.runtime.spare_suits(self._last or {}, self._target):  # the pids limit leaves no room for one
            return
        try:
            self._spare = self.runtime.fork_spare(self._target, self._last)
        except RuntimeError_ as exc:
            note(f"no spare for execs: {exc}")

    def _expire(self, eid: str, ready: _Ready) -> None:
        if self._ready.get(eid) is ready:
            del self._ready[eid]
            self._discard(ready)

    def _discard(self, ready: _Ready, alive: bool = True) -> None:
        self.loop.cancel(ready.timer)
        ready.io.close()
        if alive:
            ready.held.discard()
        else:
            ready.held.close()

    def _launch_ready(self, eid: str, process: dict[str, object], stdin: bool) -> Proc | None:
        """The exec's ready process, let go, when it is the process asked for; None to start one afresh."""
        ready = self._ready.pop(eid, None)
        if ready is None:
            return None
        if ready.process != process or ready.stdin != stdin:
            self._discard(ready)
            return None
        self.loop.cancel(ready.timer)
        helper = ready.held.pid
        try:
            pid = self.runtime.launch(ready.held)
        except RuntimeError_ as exc:  # it failed or was killed while it waited (and is reaped): start afresh
            note(f"ready exec {eid} failed: {exc}")
            ready.io.close()
            return None
        try:
            ready.io.after_spawn()
        except BaseException:
            ready.io.close()
            raise
        if helper != pid:  # a spare spawned it and exits: the process is ours once the spare is gone
            self.watch(helper, None)
            self.watch(pid, lambda: self.orphan_exited(pid))
        else:
            self.watch(pid, None)
        return Proc(self.loop, pid, ready.io, None, self.exec_done)

    def _runtime_exec(self, key: str, process: dict[str, object], io: ProcIO) -> int:
        """`runtime exec --detach` (runc, crun, ...); the process's pid."""
        spec, pid_file = self.path(key + ".json"), self.path(key + ".pid")
        with open(spec, "w") as f:
            f.write(minijson.dumps(process))
        try:
            args = ["exec", "--process", spec, "--detach", "--pid-file", pid_file, *io.runtime_args(),
                    self.container_id]
            self.runtime.run(args, io.child, io.err_reader)
            return read_pid(pid_file)
        finally:
            for path in (spec, pid_file):
                unlink(path)


def zombie_status(pid: int) -> int | None:
    """The wait status of `pid` when it has exited and is not reaped yet (its parent is not us); else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
    except OSError:
        return None
    if len(fields) < 50 or fields[0] != b"Z":
        return None
    return int(fields[49])
