"""The shim's state and its control operations (shim layer): create, serve shim.sock, reap, delete."""

from __future__ import annotations

import _socket
import os
import time
from collections.abc import Callable

from berth.kernel.prctl import set_child_subreaper
from berth.shim.clients import Client
from berth.shim.execstart import ExecStarter, zombie_status
from berth.shim.jsonlog import JsonLog
from berth.shim.keeper import KeeperLink
from berth.shim.loop import Loop
from berth.shim.procs import Proc
from berth.shim.protocol import FRAME_STDERR, FRAME_STDOUT, short_socket_path
from berth.shim.runtime import Runtime, RuntimeError_
from berth.shim.stdio import ProcIO
from berth.shim.sysutil import note, read_pid, remove_tree, wait_exit
from berth.shim.teardown import Teardown
from berth.util import minijson

__all__ = ["Config", "OpError", "Shim"]

_EXEC_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
DELETE_WAIT = 10.0


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
        self.starter = ExecStarter(loop, self.runtime, cfg.id, cfg.path, self._watch, self._orphan_exited,
                                   self._exec_done)
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
                self.starter.ready_died(pid)

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
        self.starter.close()
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
        if self._listener is not None:  # not shutting down
            # a lone exec gets no spare: the hand-over would kill it unused before the next exec comes
            self.starter.exec_ended(in_a_row=self.idle_after <= 0 or now - last < self.idle_after)

    def _orphan_exited(self, pid: int) -> None:
        """An exec a spare spawned has exited: while the spare is still on its way out, read its zombie."""
        self.reap()
        proc = self._proc_by_pid(pid)
        if proc is not None:
            status = zombie_status(pid)
            if status is not None:
                proc.exited(status)

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
        proc = self.starter.start(eid, f"exec-{eid[:12]}-{len(self.execs)}", process, bool(req.get("stdin")))
        self.execs[eid] = proc
        client.reply({"ok": True, "pid": proc.pid})
        proc.subscribe(client, frozenset((FRAME_STDOUT, FRAME_STDERR)), bool(req.get("stdin")))

    def op_exec_prepare(self, client: Client, req: dict[str, object]) -> None:
        """At exec create, with Berth's runtime: make the process ready, so that the start has only to let it
        exec (berth.shim.execstart)."""
        eid, process = self._exec_request(req)
        self._ok(client, prepared=self.starter.prepare(eid, process, bool(req.get("stdin"))))

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
        self.starter.close()
        if self.log is not None:
            self.log.close()
        remove_tree(self.cfg.dir)
        last_words()
        for c in list(self.clients):
            c.flush_blocking(1.0)
            c.close()
        self.loop.stop()


def _valid_exec_id(eid: str) -> bool:
    return 0 < len(eid) <= 128 and eid[0] not in "._-" and set(eid) <= _EXEC_ID_CHARS


def _int(req: dict[str, object], key: str) -> int:
    value = req.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OpError(f"{key} must be an integer")
    return value

