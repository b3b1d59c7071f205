"""The shim's state and its control operations (shim layer): create, serve shim.sock, reap, delete."""

from __future__ import annotations

import _socket
import os
import time
from collections.abc import Callable

from berth.kernel.prctl import set_child_subreaper
from berth.shim.clients import Client
from berth.shim.jsonlog import JsonLog
from berth.shim.keeper import KeeperLink
from berth.shim.loop import Loop
from berth.shim.procs import Proc
from berth.shim.protocol import FRAME_STDERR, FRAME_STDOUT, short_socket_path
from berth.shim.runtime import Runtime, RuntimeError_
from berth.shim.stdio import ProcIO
from berth.shim.sysutil import note, read_pid, remove_tree, unlink, wait_exit
from berth.shim.teardown import Teardown
from berth.util import minijson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.runtime.execjoin import ExecTarget, Held
    from berth.runtime.execspare import Prepared, Spare

__all__ = ["Config", "OpError", "Shim"]

_EXEC_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
DELETE_WAIT = 10.0
READY_TTL = 2.0  # seconds a process made ready at exec create waits for its start before it is killed
MAX_READY = 4  # ready processes a shim keeps at once: a flood of exec creates leaves no crowd behind
SPARE_AFTER = 0.01  # seconds after an exec has ended that the spare for the next is forked (after its client has gone)


class OpError(Exception):
    """A request the shim refuses; `kind` tells the client which error to raise."""

    def __init__(self, msg: str, kind: str = "invalid") -> None:
        super().__init__(msg)
        self.kind = kind


class Config:
    """What the shim was launched with."""

    __slots__ = ("bundle", "dir", "id", "log_max_files", "log_max_size", "log_path", "runtime", "stdin", "tty")

    def __init__(self, id: str, bundle: str, dir: str, runtime: list[str], log_path: str,
                 stdin: bool, tty: bool, log_max_size: int = -1, log_max_files: int = 1) -> None:
        self.id, self.bundle, self.dir, self.runtime = id, bundle, dir, runtime
        self.log_path, self.stdin, self.tty = log_path, stdin, tty
        self.log_max_size, self.log_max_files = log_max_size, log_max_files  # json-file rotation (-1: none)

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)


class _Ready:
    """An exec's process made ready before its start: forked into the container, set up, held before execve."""

    __slots__ = ("held", "io", "process", "stdin", "timer")

    def __init__(self, held: Held | Prepared, io: ProcIO, process: dict[str, object], stdin: bool) -> None:
        self.held, self.io, self.process, self.stdin = held, io, process, stdin
        self.timer = -1


class Shim:
    """Owns one container: its init, its execs, and every client connection."""

    def __init__(self, cfg: Config, loop: Loop) -> None:
        self.cfg = cfg
        self.loop = loop
        self.runtime = Runtime(cfg.runtime, cfg.path("runtime.err"))
        self.teardown = Teardown(self.runtime, cfg.id, cfg.path("delete.err"))
        self.log = JsonLog(cfg.log_path, cfg.log_max_size, cfg.log_max_files) if cfg.log_path else None
        self.init: Proc | None = None
        self.started_at = 0
        self.execs: dict[str, Proc] = {}
        self._ready: dict[str, _Ready] = {}  # by exec id, Berth's runtime only (see op_exec_prepare)
        self._exec_target: ExecTarget | None = None  # opened at the first exec, closed when init exits
        self._spare: Spare | None = None  # forked after an exec, for the next one (berth.runtime.execspare)
        self._last_exec_end = float("-inf")  # monotonic
        self.waiters: list[Client] = []
        self.clients: set[Client] = set()
        self._listener: _socket.socket | None = None
        self.keeper: KeeperLink | None = None  # forked by a keeper (berth.shim.keeper): idle, hand over and exit
        self.idle_after = 0.0
        self._ops: dict[str, Callable[[Client, dict[str, object]], None]] = {
            "start": self.op_start, "state": self.op_state, "kill": self.op_kill, "wait": self.op_wait,
            "resize": self.op_resize, "close_stdin": self.op_close_stdin, "attach": self.op_attach,
            "exec": self.op_exec, "exec_prepare": self.op_exec_prepare, "exec_state": self.op_exec_state,
            "delete": self.op_delete,
            "pause": self.op_pause, "resume": self.op_resume, "update": self.op_update,
        }

    # -- setup ----------------------------------------------------------------------------------
    def create(self) -> int:
        """`runtime create` the container and start serving; returns init's pid."""
        set_child_subreaper(True)
        pid_file = self.cfg.path("init.pid")
        io = ProcIO(self.cfg.tty, self.cfg.stdin, self.cfg.path("console.sock"))
        try:
            args = ["create", "--bundle", self.cfg.bundle, "--pid-file", pid_file, *io.runtime_args(),
                    self.cfg.id]
            self.runtime.run(args, io.child, io.err_reader)
            io.after_spawn()
            pid = read_pid(pid_file)
        except BaseException:
            io.close()
            self._runtime_quiet(["delete", "--force", self.cfg.id])
            raise
        self.init = Proc(self.loop, pid, io, self.log, self._init_done)
        if self.keeper is not None:
            self.keeper.tell_init(pid)
        self._watch_init(pid)
        self._listen()
        return pid

    def _watch_init(self, pid: int) -> None:
        """Our child reaps as any; once a worker before us has handed over, the init is the keeper's child."""
        def exited() -> None:
            self.reap()
            init = self.init
            if init is not None and init.running and init.pid == pid and self.keeper is not None:
                status = self.keeper.init_status(pid)
                if status is not None:
                    init.exited(status)

        self._watch(pid, exited)

    def _listen(self) -> None:
        path = self.cfg.path("shim.sock")
        if os.path.lexists(path):
            os.unlink(path)
        arg, dirfd = short_socket_path(path)
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.bind(arg)
        finally:
            if dirfd is not None:
                os.close(dirfd)
        os.chmod(path, 0o600)
        sock.listen(64)
        sock.setblocking(False)
        self._listener = sock
        self.loop.set_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            fd, _ = self._listener._accept()  # type: ignore[attr-defined]
            conn = _socket.socket(fileno=fd)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EMFILE and friends: drop this one, keep serving
            note(f"accept failed: {exc}")
            return
        client = Client(self.loop, conn, self.handle)
        self.clients.add(client)
        client.on_close(lambda: self.clients.discard(client))

    def _runtime_quiet(self, args: list[str]) -> None:
        try:
            self.runtime.run(args)
        except (RuntimeError_, OSError) as exc:
            note(f"runtime {args[0]} failed: {exc}")

    def _watch(self, pid: int, then: Callable[[], None] | None = None) -> None:
        """Reap when `pid` (our child, thanks to the subreaper bit) exits: its pidfd becomes readable."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:  # gone and reaped already: nothing to wait for
            return

        def exited() -> None:
            self.loop.forget(pidfd)
            os.close(pidfd)
            (then or self.reap)()

        self.loop.set_reader(pidfd, exited)

    # -- children -------------------------------------------------------------------------------
    def reap(self) -> None:
        """Collect every child that has exited (init, execs, and orphans reparented to us)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.teardown.reaped(pid, status):
                if not self.teardown.done:
                    note(f"runtime delete failed: {self.teardown.error_text()}")
                continue
            proc = self._proc_by_pid(pid)
            if proc is not None:
                proc.exited(status)
            else:
                self._ready_died(pid)

    def _proc_by_pid(self, pid: int) -> Proc | None:
        if self.init is not None and self.init.pid == pid:
            return self.init
        for proc in self.execs.values():
            if proc.pid == pid and proc.running:
                return proc
        return None

    def _init_done(self, proc: Proc) -> None:
        from berth.util.atomic import write_atomic  # preloaded by the zygote; minijson: `json` would load `re`

        result = {"exit_code": proc.exit_code, "finished_at": proc.finished_at, "started_at": self.started_at}
        try:
            write_atomic(self.cfg.path("exit.json"), minijson.dumps(result).encode(), durable=False)
        except OSError as exc:
            note(f"cannot write exit.json: {exc}")
        note(f"init {proc.pid} exited with {proc.exit_code}")
        self._discard_ready()  # the end of the container's pid namespace killed them
        self.drop_spare()
        if self._exec_target is not None:
            self._exec_target.close()  # its namespaces must not outlive the container
            self._exec_target = None
        waiters, self.waiters = self.waiters, []
        for client in waiters:
            client.reply({"ok": True, "exit_code": proc.exit_code, "finished_at": proc.finished_at})
            client.end()
        try:
            pid = self.teardown.begin()  # the daemon's delete follows: have it done (or under way) by then
        except OSError as exc:
            note(f"cannot begin runtime delete: {exc}")
        else:
            if pid:
                self._watch(pid)

    def _exec_done(self, proc: Proc) -> None:
        note(f"exec {proc.pid} exited with {proc.exit_code}")
        now, last = time.monotonic(), self._last_exec_end
        self._last_exec_end = now
        in_a_row = self.idle_after <= 0 or now - last < self.idle_after  # else the hand-over would kill it unused
        if in_a_row and self._spare is None and self._exec_target is not None:
            self.loop.call_later(SPARE_AFTER, self._fork_spare)

    def _fork_spare(self) -> None:
        """A spare for the next exec, once execs come in a row (a script's, a test's); a lone exec now and then
        (a healthcheck every 30 s) gets none: its worker hands over before the next comes."""
        if self._spare is not None or self._exec_target is None or self._listener is None:
            return
        try:
            self._spare = self.runtime.fork_spare(self._exec_target)
        except RuntimeError_ as exc:
            note(f"no spare for execs: {exc}")

    def drop_spare(self) -> None:
        """Kill the spare, if there is one (the container stops, or the worker leaves)."""
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()

    # -- requests -------------------------------------------------------------------------------
    def handle(self, client: Client, req: dict[str, object]) -> None:
        op = req.get("op")
        handler = self._ops.get(op) if isinstance(op, str) else None
        try:
            if handler is None:
                raise OpError(f"unknown op {op!r}")
            handler(client, req)
        except OpError as exc:
            client.fail(str(exc), exc.kind)
        except RuntimeError_ as exc:
            client.fail(str(exc), "system")
        except (KeyError, TypeError, ValueError) as exc:
            client.fail(f"bad request: {exc!r}", "invalid")
        except OSError as exc:
            client.fail(str(exc), "system")
        except Exception as exc:  # a bug: answer it, log it, keep serving
            note(f"op {op!r} failed: {exc!r}")
            client.fail(f"shim internal error: {exc!r}", "system")
        self.reap()  # orphans the runtime left to us, the subreaper

    def _init(self) -> Proc:
        assert self.init is not None
        return self.init

    def _ok(self, client: Client, **fields: object) -> None:
        client.reply({"ok": True, **fields})
        client.end()

    def op_start(self, client: Client, req: dict[str, object]) -> None:
        init = self._init()
        if not init.running:
            raise OpError("container has already exited", "conflict")
        if self.started_at:
            raise OpError("container already started", "conflict")
        self.runtime.run(["start", self.cfg.id])
        self.started_at = time.time_ns()
        self._ok(client)

    def op_pause(self, client: Client, req: dict[str, object]) -> None:
        """Freeze every process of the container (its cgroup's freezer)."""
        if not self._init().running:
            raise OpError("container is not running", "conflict")
        self.runtime.run(["pause", self.cfg.id])
        self._ok(client)

    def op_update(self, client: Client, req: dict[str, object]) -> None:
        """New cgroup limits (OCI linux.resources, only those that change) for the running container."""
        resources = req.get("resources")
        if not isinstance(resources, dict):
            raise OpError("resources must be an object")
        if not self._init().running:
            raise OpError("container is not running", "conflict")
        from berth.util.atomic import write_json_atomic

        path = self.cfg.path("resources.json")
        write_json_atomic(path, resources, mode=0o600, durable=False)
        self.runtime.run(["update", "--resources", path, self.cfg.id])
        self._ok(client)

    def op_resume(self, client: Client, req: dict[str, object]) -> None:
        self.runtime.run(["resume", self.cfg.id])
        self._ok(client)

    def op_state(self, client: Client, req: dict[str, object]) -> None:
        init = self._init()
        status = "stopped" if not init.running else "running" if self.started_at else "created"
        self._ok(client, status=status, pid=init.pid, exit_code=init.exit_code,
                 started_at=self.started_at, finished_at=init.finished_at)

    def op_kill(self, client: Client, req: dict[str, object]) -> None:
        sig = _int(req, "signal")
        if not 0 < sig < 65:
            raise OpError(f"invalid signal {sig}")
        eid = req.get("exec_id")
        if eid is not None:  # one exec'd process (a healthcheck past its timeout): ours to reap, so no pid reuse
            proc = self.execs.get(eid) if isinstance(eid, str) else None
            if proc is None or not proc.running:
                raise OpError(f"exec {eid} is not running", "conflict")
            os.kill(proc.pid, sig)
            self._ok(client)
            return
        kill_all = bool(req.get("all"))
        if not self._init().running and not kill_all:
            raise OpError("container is not running: process already finished", "conflict")
        try:
            self.runtime.run(["kill", *(["--all"] if kill_all else []), self.cfg.id, str(sig)])
        except RuntimeError_:
            if kill_all and not self._init().running:
                self._ok(client)  # nothing was left to signal
                return
            raise
        self._ok(client)

    def op_wait(self, client: Client, req: dict[str, object]) -> None:
        init = self._init()
        if init.done:
            self._ok(client, exit_code=init.exit_code, finished_at=init.finished_at)
            return
        self.waiters.append(client)
        client.on_close(lambda: self.waiters.remove(client) if client in self.waiters else None)

    def _target(self, req: dict[str, object]) -> Proc:
        eid = req.get("exec_id")
        if eid is None:
            return self._init()
        proc = self.execs.get(eid) if isinstance(eid, str) else None
        if proc is None:
            raise OpError(f"no such exec: {eid}", "not_found")
        return proc

    def op_resize(self, client: Client, req: dict[str, object]) -> None:
        proc = self._target(req)
        height, width = _int(req, "h"), _int(req, "w")
        if not (0 <= height < 65536 and 0 <= width < 65536):
            raise OpError(f"invalid size {height}x{width}")
        if proc.done:
            raise OpError("process has exited", "conflict")
        proc.resize(height, width)
        self._ok(client)

    def op_close_stdin(self, client: Client, req: dict[str, object]) -> None:
        self._target(req).stdin.close()
        self._ok(client)

    def op_attach(self, client: Client, req: dict[str, object]) -> None:
        init = self._init()
        flags = ((FRAME_STDOUT, "stdout"), (FRAME_STDERR, "stderr"))
        kinds = frozenset(kind for kind, flag in flags if req.get(flag))
        client.reply({"ok": True})
        init.subscribe(client, kinds, bool(req.get("stdin")))

    def _exec_request(self, req: dict[str, object]) -> tuple[str, dict[str, object]]:
        eid, process = req.get("exec_id"), req.get("process")
        if not isinstance(eid, str) or not _valid_exec_id(eid):
            raise OpError(f"invalid exec id {eid!r}")
        if not isinstance(process, dict) or not isinstance(process.get("args"), list):
            raise OpError("exec needs an OCI process with args")
        if eid in self.execs:
            raise OpError(f"exec {eid} already exists", "conflict")
        if not self._init().running:
            raise OpError("container is not running", "conflict")
        return eid, process

    def op_exec(self, client: Client, req: dict[str, object]) -> None:
        eid, process = self._exec_request(req)
        proc = self._start_exec(eid, process, bool(req.get("stdin")))
        self.execs[eid] = proc
        client.reply({"ok": True, "pid": proc.pid})
        proc.subscribe(client, frozenset((FRAME_STDOUT, FRAME_STDERR)), bool(req.get("stdin")))

    def op_exec_prepare(self, client: Client, req: dict[str, object]) -> None:
        """At exec create, with Berth's runtime: fork the process and set it up now, so that the exec's start
        has only to let it exec. It is used only if the start brings the same process; else, or when no start
        comes within READY_TTL, it is killed before it has run anything of the container's."""
        eid, process = self._exec_request(req)
        stdin = bool(req.get("stdin"))
        target = None if eid in self._ready or len(self._ready) >= MAX_READY else self._target_for_exec()
        if target is None:
            self._ok(client, prepared=False)
            return
        io = ProcIO(bool(process.get("terminal")), stdin, self.cfg.path(f"ready-{eid[:12]}.sock"))
        try:
            held: Held | Prepared
            if io.child is not None and self.runtime.spare_suits(process):
                spare, self._spare = self._spare, None
                held = (spare or self.runtime.fork_spare(target)).prepare(process, io.child)
            else:
                held = self.runtime.exec_in(target, process, io.child, io.console.arg if io.console else None,
                                            held=True)
        except BaseException:
            io.close()
            raise
        ready = _Ready(held, io, process, stdin)
        ready.timer = self.loop.call_later(READY_TTL, lambda: self._expire(eid, ready))
        self._ready[eid] = ready
        self._ok(client, prepared=True)

    def _target_for_exec(self) -> ExecTarget | None:
        """The running container as Berth's runtime lets the shim exec into it; None with another runtime."""
        if self._exec_target is None:
            self._exec_target = self.runtime.exec_target(self.cfg.id)
        return self._exec_target

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

    def _discard_ready(self) -> None:
        ready, self._ready = list(self._ready.values()), {}
        for r in ready:
            self._discard(r)

    def _ready_died(self, pid: int) -> None:
        """A ready process was reaped before its start (killed from inside the container): forget it."""
        for eid, ready in list(self._ready.items()):
            if ready.held.pid == pid:
                del self._ready[eid]
                self._discard(ready, alive=False)

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
            self._watch(helper)

            def exited() -> None:
                self.reap()
                proc = self._proc_by_pid(pid)
                if proc is not None:  # its parent, the spare, is still on its way out: read the zombie's status
                    status = _zombie_status(pid)
                    if status is not None:
                        proc.exited(status)

            self._watch(pid, exited)
        else:
            self._watch(pid)
        return Proc(self.loop, pid, ready.io, None, self._exec_done)

    def _start_exec(self, eid: str, process: dict[str, object], stdin: bool) -> Proc:
        launched = self._launch_ready(eid, process, stdin)
        if launched is not None:
            return launched
        key = f"exec-{eid[:12]}-{len(self.execs)}"
        io = ProcIO(bool(process.get("terminal")), stdin, self.cfg.path(key + ".sock"))
        try:
            target = self._target_for_exec()
            if target is not None:  # Berth's runtime: the shim forks the process itself
                pid = self.runtime.launch(self.runtime.exec_in(target, process, io.child,
                                                               io.console.arg if io.console else None))
            else:
                pid = self._runtime_exec(key, process, io)
            io.after_spawn()
        except BaseException:
            io.close()
            raise
        self._watch(pid)
        return Proc(self.loop, pid, io, None, self._exec_done)

    def _runtime_exec(self, key: str, process: dict[str, object], io: ProcIO) -> int:
        """`runtime exec --detach` (runc, crun, ...); the process's pid."""
        spec, pid_file = self.cfg.path(key + ".json"), self.cfg.path(key + ".pid")
        with open(spec, "w") as f:
            f.write(minijson.dumps(process))
        try:
            args = ["exec", "--process", spec, "--detach", "--pid-file", pid_file, *io.runtime_args(),
                    self.cfg.id]
            self.runtime.run(args, io.child, io.err_reader)
            return read_pid(pid_file)
        finally:
            for path in (spec, pid_file):
                unlink(path)

    def op_exec_state(self, client: Client, req: dict[str, object]) -> None:
        if req.get("exec_id") is None:
            raise OpError("exec_state needs an exec_id")
        proc = self._target(req)
        self._ok(client, running=proc.running, pid=proc.pid, exit_code=proc.exit_code)

    def op_delete(self, client: Client, req: dict[str, object]) -> None:

        def deleted(error: Exception | None) -> None:
            if error is not None:
                client.fail(str(error), "system")
                return
            for proc in [self._init(), *self.execs.values()]:
                if proc.running:
                    wait_exit(proc, DELETE_WAIT)
                if proc.running:
                    note(f"process {proc.pid} outlived runtime delete")
                proc.finish()
            self.shutdown(lambda: client.reply({"ok": True}))

        self.teardown.when_done(deleted)

    # -- exit -----------------------------------------------------------------------------------
    def shutdown(self, last_words: Callable[[], None]) -> None:
        """Stop serving, remove SHIMDIR, then `last_words`, send what is queued and stop the loop."""
        if self._listener is not None:
            self.loop.forget(self._listener.fileno())
            self._listener.close()
            self._listener = None
        self._discard_ready()
        self.drop_spare()
        if self.log is not None:
            self.log.close()
        remove_tree(self.cfg.dir)
        last_words()
        for c in list(self.clients):
            c.flush_blocking(1.0)
            c.close()
        self.loop.stop()


def _zombie_status(pid: int) -> int | None:
    """The wait status of `pid` when it has exited and is not reaped yet (its parent is not us); else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
    except OSError:
        return None
    if len(fields) < 50 or fields[0] != b"Z":
        return None
    return int(fields[49])


def _valid_exec_id(eid: str) -> bool:
    return 0 < len(eid) <= 128 and eid[0] not in "._-" and set(eid) <= _EXEC_ID_CHARS


def _int(req: dict[str, object], key: str) -> int:
    value = req.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OpError(f"{key} must be an integer")
    return value

