"""An exec's process started by a spare: a process forked ahead of the exec, outside the container (runtime layer).

With `execjoin`, the fork of the shim and the execve that tears down the child's copy of the shim's address
space are both on the way of `docker exec`: together about a third of its start (2 of 5.7 ms here). A spare
is forked before any exec needs it and waits, holding nothing of the container's. For an exec it joins the
container itself (cgroups, namespaces, rlimits, seccomp, capabilities, user, cwd: `finalize_process`), waits
for the go, then spawns the process with vfork and execve into the container's pid namespace, tells its pid
and exits. The process, orphaned, goes to the shim, a subreaper. The spare is never in the container's pid
namespace (its processes cannot see it), and in its cgroups only from the exec's create until the spawn.

    shim (S)                                      spare (P)
       | -- fork, ahead of an exec -----------------> |  closes every fd but its socket and the target's
       | -- {"process"} + its stdin, stdout, stderr -> |  cgroups, setns, finalize_process
       | -- {"go"} ---------------------------------> |  vfork + execve: setsid, stdio on 0-2
       | <-- {"pid"} or {"error"} ------------------ |  _exit

That set-up takes about 2 ms, and `docker exec` sends its start sooner than that after its create: the spare
was late in most execs. So a spare may be forked *expecting* a process (the previous exec's, when execs come
in a row): it enters the container's namespaces and becomes what that process runs as (`enter_process`) while
it waits, and then serves only an exec whose process differs from the expected one in nothing but its args
and env. Such a spare is still outside the container's cgroups: the shim moves it in at the exec's create.

Not for a process on a terminal (its pty is made in the container by the process itself: `execjoin`).
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from berth.kernel import abi
from berth.kernel.fds import cloexec_from
from berth.kernel.ns import setns
from berth.kernel.prctl import set_dumpable, set_name, set_pdeathsig
from berth.kernel.signals import ignored_signals
from berth.runtime import jsonc
from berth.runtime.errors import RuntimeFailure
from berth.runtime.execjoin import ExecTarget, close_all_but, kill_and_reap, unreaped_child
from berth.runtime.init import command_of, default_signals, enter_process, env_map, finalize_process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["Prepared", "Spare", "same_but_command", "suits"]

_MAX = 1 << 16
_COMMAND = ("args", "env")


def suits(process: dict[str, Any], target: ExecTarget | None = None) -> bool:
    """Whether a spare can start `process`: not on a terminal, and neither a process-count limit of its own nor
    one of the container that is close (the spare is in the container's cgroups and counts as one of its
    processes, and of its user's, while it spawns: with its process, two)."""
    if process.get("terminal"):
        return False
    if any(isinstance(r, dict) and r.get("type") == "RLIMIT_NPROC" for r in process.get("rlimits") or []):
        return False
    room = target.cgroups.pids_room() if target is not None and target.cgroups is not None else None
    return room is None or room >= 2


def same_but_command(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether processes `a` and `b` differ in nothing but their args and env (what a spare that expected one
    can still change for the other)."""
    return {k: v for k, v in a.items() if k not in _COMMAND} == {k: v for k, v in b.items() if k not in _COMMAND}


class Spare:
    """A process forked from us, waiting for an exec to start in `target`'s container; with `expect`, set up
    already for that process, in all but its cgroups (`fits` says which processes it can start)."""

    __slots__ = ("cgroups", "expect", "pid", "sock")

    def __init__(self, target: ExecTarget, expect: dict[str, Any] | None = None) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ignored = ignored_signals()
        try:
            pid = os.fork()
        except BaseException:
            ours.close()
            theirs.close()
            raise
        if pid == 0:
            try:
                ours.close()
                _serve(theirs, target, ignored, expect)
            finally:
                os._exit(1)
        theirs.close()
        self.pid, self.sock, self.expect = pid, ours, expect
        self.cgroups = target.cgroups if expect is not None else None

    def fits(self, process: dict[str, Any]) -> bool:
        """Whether it can start `process` (a spare that expected another one cannot: it is that one's user)."""
        return self.expect is None or same_but_command(process, self.expect)

    def prepare(self, process: dict[str, Any], stdio: tuple[int, int, int]) -> Prepared:
        """Have it join the container for `process`, with `stdio` as its 0-2; it is used up by this. RuntimeFailure
        (and it is killed) when it cannot be moved into the container's cgroups."""
        try:
            socket.send_fds(self.sock, [jsonc.dumps({"process": process}).encode()], list(stdio))
        except OSError:  # it died: the launch tells
            pass
        if self.cgroups is not None:  # while it finishes its set-up: done long before its go
            try:
                if not unreaped_child(self.pid):
                    raise ProcessLookupError("the exec's helper process is gone")
                self.cgroups.add(self.pid)
            except OSError as e:
                self.discard()
                raise RuntimeFailure(f"cannot move the process into the container's cgroups: {e}") from None
        return Prepared(self.pid, self.sock)

    def discard(self) -> None:
        """Kill and reap it."""
        self.sock.close()
        kill_and_reap(self.pid)


class Prepared:
    """A spare at work on one exec, until `launch` lets it spawn the process (or `discard` kills it)."""

    __slots__ = ("pid", "sock")

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid, self.sock = pid, sock  # pid: the spare's, which exits once it has spawned

    def launch(self) -> int:
        """The process's pid once it has exec'd; RuntimeFailure with the reason when it could not start."""
        try:
            try:
                self.sock.send(b'{"go":true}')
            except OSError:  # it failed before its go, or was killed: its message (if any) says why
                pass
            data = self.sock.recv(_MAX)
        except BaseException:
            self.discard()
            raise
        finally:
            self.sock.close()
        msg = jsonc.loads(data) if data else {"error": "the exec's helper process died"}
        pid = msg.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool):
            kill_and_reap(self.pid)
            raise RuntimeFailure(str(msg.get("error") or "exec failed"))
        return pid

    def close(self) -> None:
        self.sock.close()

    def discard(self) -> None:
        """Kill and reap it (it has spawned nothing: nothing of the container's has run)."""
        self.sock.close()
        kill_and_reap(self.pid)


def _serve(sock: socket.socket, target: ExecTarget, ignored: tuple[int, ...],
           expect: dict[str, Any] | None) -> None:
    """The spare: wait for the exec's process, join the container, spawn it at the go; never returns."""
    set_pdeathsig(signal.SIGKILL)  # the shim's worker is its parent: no spare outlives it
    set_name(b"berth-exec")
    keep = {sock.fileno(), *(fd for fd, _ in target.joins), *((target.pidns,) if target.pidns >= 0 else ())}
    close_all_but(3, keep)  # the shim's sockets and pipes must close when the shim closes them
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)  # and so must whatever the shim has as its stdio
    os.close(null)
    if expect is not None:
        try:
            parent = os.getppid()
            set_dumpable(False)  # soon in the container's namespaces, as its user: they must not read our memory
            _join_namespaces(target)
            for fd in [target.pidns, *(fd for fd, _ in target.joins)]:
                if fd >= 0:
                    os.close(fd)  # joined: what it holds while it waits is its socket only
            enter_process(_inherited(expect, target), target.last_cap, 0, target.seccomp)
            set_pdeathsig(signal.SIGKILL)  # a change of user clears it
            if os.getppid() != parent:
                os._exit(1)
            default_signals(ignored)  # ours, so the process inherits them: what it must find at its start
        except BaseException as e:
            _tell(sock, {"error": str(e) or e.__class__.__name__})  # the launch tells; the start goes afresh
            os._exit(1)
    try:
        data, fds, _, _ = socket.recv_fds(sock, _MAX, 3)
    except OSError:
        os._exit(1)
    if not data:
        os._exit(0)  # discarded unused
    try:
        if len(fds) != 3:
            raise RuntimeFailure("the exec's stdio did not come")
        process = jsonc.loads(data)["process"]
        if expect is None:
            set_dumpable(False)  # soon in the container's cgroups, as its user: they must not read our memory
            if target.cgroups is not None:
                try:
                    target.cgroups.add(0)
                except OSError as e:
                    raise RuntimeFailure(f"cannot move the process into the container's cgroups: {e}") from None
            _join_namespaces(target)
            path, args, env = finalize_process(_inherited(process, target), target.last_cap, 0, target.seccomp)
            default_signals(ignored)
        elif same_but_command(process, expect) and _still_in(process.get("cwd") or "/"):
            cloexec_from(3)  # the stdio just received: the process gets it on 0-2 only
            path, args, env = command_of(process)
        else:  # the start goes afresh, and fails there if it must
            raise RuntimeFailure("the exec's process is not the one its helper was set up for, or its cwd changed")
        spawn = _spawner(path, args, env_map(env), fds)
        if sock.recv(_MAX) != b'{"go":true}':
            os._exit(1)
        pid = spawn()
        for fd in fds:
            os.close(fd)  # the process's output ends when it (and its children) are done with it, not us
    except BaseException as e:
        _tell(sock, {"error": str(e) or e.__class__.__name__})
        os._exit(1)
    _tell(sock, {"pid": pid})
    os._exit(0)


def _still_in(cwd: str) -> bool:
    """Whether the directory we moved into ahead of time is still what `cwd` names (not removed or replaced)."""
    try:
        here, there = os.stat("."), os.stat(cwd)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _join_namespaces(target: ExecTarget) -> None:
    if target.pidns >= 0:
        setns(target.pidns, abi.CLONE_NEWPID)  # for our children only: the process is born there
    for fd, flag in target.joins:
        setns(fd, flag)


def _inherited(process: dict[str, Any], target: ExecTarget) -> dict[str, Any]:
    """`process` without what the spare has from us already (the oom score adjustment, when it is the same)."""
    if process.get("oomScoreAdj") == target.oom_score_adj:
        return {**process, "oomScoreAdj": None}
    return process


def _spawner(path: str, args: list[str], environ: dict[str, str], stdio: list[int]) -> Callable[[], int]:
    """What starts the process at the go, with all it needs made beforehand: vfork and execve as Python's
    subprocess does them on 3.11, fork and execve elsewhere. (posix_spawn would leave glibc's two internal
    signals ignored in the process, and tries clone3, which seccomp profiles may refuse with EPERM.)"""
    if sys.version_info[:2] != (3, 11):
        return lambda: _fork_exec(path, args, environ, stdio)
    import _posixsubprocess

    fork_exec: Callable[..., int] = _posixsubprocess.fork_exec  # private, and its arguments change with versions
    argv, executable = [a.encode() for a in args], [path.encode()]
    env = [k.encode() + b"=" + v.encode() for k, v in environ.items()]

    def spawn() -> int:
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = fork_exec(argv, executable, False, (), None, env, stdio[0], -1, -1, stdio[1], -1, stdio[2], r, w,
                            False, True, -1, None, None, None, -1, None, True)  # setsid; no ids to change; vfork
            os.close(w)
            w = -1
            err = os.read(r, 1000)
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        if err:
            os.waitpid(pid, 0)
            raise _exec_error(err, path)
        return pid

    return spawn


def _exec_error(err: bytes, path: str) -> Exception:
    """The error subprocess's child reported on its pipe ("OSError:<errno in hex>:<where>"), as an exception."""
    name, _, rest = err.partition(b":")
    code, _, text = rest.partition(b":")
    try:
        number = int(code, 16)
    except ValueError:
        return RuntimeFailure(err.decode("utf-8", "replace"))
    if name == b"OSError" and number:
        return OSError(number, os.strerror(number), path)
    return RuntimeFailure(text.decode("utf-8", "replace") or name.decode("utf-8", "replace"))


def _fork_exec(path: str, args: list[str], environ: dict[str, str], stdio: list[int]) -> int:
    """fork and execve, learning from a close-on-exec pipe how the execve went."""
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setsid()
            for target, fd in enumerate(stdio):
                os.dup2(fd, target)
            os.execve(path, args, environ)
        except OSError as e:
            os.write(w, str(e).encode()[:1000])
        finally:
            os._exit(127)
    os.close(w)
    try:
        err = os.read(r, 1000)
    finally:
        os.close(r)
    if err:
        os.waitpid(pid, 0)
        raise RuntimeFailure(err.decode("utf-8", "replace"))
    return pid


def _tell(sock: socket.socket, msg: dict[str, object]) -> None:
    try:
        sock.send(jsonc.dumps(msg).encode())
    except OSError:
        pass
