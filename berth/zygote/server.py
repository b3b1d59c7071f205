"""The zygote process (zygote layer): preload the shim and runtime, then fork shims on request.

    python -S -m berth.zygote --socket PATH [--pid-file PATH] [--prime-fd FD]

Protocol on PATH (unix stream, one request per connection): the daemon sends one JSON line
`{"argv": [SHIM ARGS...]}` with two fds (SCM_RIGHTS): the shim's stdout and stderr. The child that takes it
behaves as `python -m berth.shim ARGS` (in a session of its own; never the daemon's child) and replies
`{"ok":true,"pid":N}` (or `{"ok":false,"error":"..."}`). The shim's result line reaches the daemon on the
stdout it passed.

The zygote forks each shim before its request comes: a spare child forks its worker at once (the spare is the
shim's keeper, berth.shim.keeper); the worker waits in accept() on PATH, takes the next connection, tells the
zygote (a byte on a pipe, then EOF), and becomes that shim's worker, while the zygote forks the next spare:
both forks are off the request's path. A spare dies with the zygote (PDEATHSIG) until its worker takes a
request; the zygote ignores SIGCHLD, so the kernel reaps the keepers; they restore the default for their own
children.

On FD (a pipe from the daemon) each byte is a poke: a create, start or exec is coming, and the zygote holds
the kernel's fast path for cgroup migrations open for a while (berth.kernel.cgroupwarm). EOF there ends the
priming, not the serving.
"""

from __future__ import annotations

import _socket
import gc
import os
import select
import sys
import time

from berth.kernel.cgroupwarm import MigrationWindow
from berth.kernel.ksm import ksm_running, mark_mergeable
from berth.kernel.prctl import set_name, set_pdeathsig
from berth.shim.keeper import KeeperLink, start_keeper
from berth.shim.protocol import received_fds, short_socket_path
from berth.shim.sysutil import child_outcome, note
from berth.util import minijson

_signal = __import__("_signal")  # the constants without the `signal` module, which loads `enum`

__all__ = ["main"]

MAX_REQUEST = 1 << 20
_FDS = 2
_TOOK = b"t"
RESPAWN_PAUSE = 0.1


def _preload() -> None:
    """Import everything a shim and its in-process runtime use, so that forked shims share it."""
    import berth.shim.handover
    import berth.shim.loop
    import berth.shim.main
    import berth.shim.service
    import berth.util.atomic  # noqa: F401
    from berth.shim import inproc

    inproc.preload()


def _parse(argv: list[str]) -> tuple[str, str, int]:
    opts = dict(zip(argv[::2], argv[1::2], strict=False))
    usage = "usage: python -m berth.zygote --socket PATH [--pid-file PATH] [--prime-fd FD]"
    if len(argv) % 2 or set(opts) - {"--socket", "--pid-file", "--prime-fd"} or "--socket" not in opts:
        raise SystemExit(usage)
    prime_fd = opts.get("--prime-fd", "-1")
    if not prime_fd.lstrip("-").isdigit():
        raise SystemExit(usage)
    return opts["--socket"], opts.get("--pid-file", ""), int(prime_fd)


def _listen(path: str) -> _socket.socket:
    """Bind a fresh socket next to `path` and rename it over `path`: clients never see a half-made one."""
    tmp = f"{path}.{os.getpid()}"
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    arg, dirfd = short_socket_path(tmp)
    try:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        sock.bind(arg)
    finally:
        if dirfd is not None:
            os.close(dirfd)
    os.chmod(tmp, 0o600)
    sock.listen(128)
    os.rename(tmp, path)
    return sock


def _write_pid_file(path: str) -> None:
    if not path:
        return
    from berth.util.atomic import write_atomic

    with open(f"/proc/{os.getpid()}/stat", "rb") as f:
        start = f.read().rsplit(b")", 1)[1].split()[19].decode()
    write_atomic(path, f"{os.getpid()} {start}\n".encode())


def main(argv: list[str]) -> int:
    sock_path, pid_file, prime_fd = _parse(argv)
    os.chdir("/")
    set_name(b"berth-zygote")
    _preload()
    listener = _listen(sock_path)
    _write_pid_file(pid_file)
    note(f"zygote {os.getpid()} serving on {sock_path}")
    _signal.signal(_signal.SIGCHLD, _signal.SIG_IGN)
    window = MigrationWindow.for_this_process() if prime_fd >= 0 else MigrationWindow(None)
    note(f"cgroup migrations primed through {window.procs_file}" if window.procs_file else "no migration priming")
    gc.collect()
    gc.freeze()  # what is loaded now stays out of the collector's reach: forked shims keep sharing it
    marked = mark_mergeable()  # where the host runs ksmd, the pages each shim copies from this one merge again
    note(f"zygote memory marked mergeable: {marked >> 20} MiB; ksmd {'running' if ksm_running() else 'off'}")
    if prime_fd >= 0 and window.procs_file is None:
        os.close(prime_fd)  # nothing to prime: the daemon's pokes fail at once (EPIPE), nothing piles up
        prime_fd = -1
    serve(listener, prime_fd, window)
    return 0


def serve(listener: _socket.socket, prime_fd: int, window: MigrationWindow) -> None:
    """Keep a spare shim waiting on `listener`; migrate while `window` wants it, poked by `prime_fd`."""
    poller = select.poll()
    if prime_fd >= 0:
        poller.register(prime_fd, select.POLLIN)
    spare = _fork_spare(listener, prime_fd)
    poller.register(spare, select.POLLIN)
    respawn_at: float | None = None
    while True:
        now = time.monotonic()
        wait = window.timeout(now)
        if respawn_at is not None:
            wait = max(0.0, respawn_at - now) if wait is None else min(wait, max(0.0, respawn_at - now))
        for fd, _ in poller.poll(None if wait is None else wait * 1000):
            if fd == prime_fd:
                if _drained(prime_fd):
                    window.poke(time.monotonic())
                else:  # the daemon closed its end: priming ends, serving goes on
                    poller.unregister(prime_fd)
                    prime_fd = -1
            elif fd == spare:
                poller.unregister(spare)
                took = _spare_took(spare)
                os.close(spare)
                spare = -1
                # a spare that died without a request is replaced after a pause: no fork loop if spares keep dying
                respawn_at = time.monotonic() + (0.0 if took else RESPAWN_PAUSE)
        if spare < 0 and respawn_at is not None and time.monotonic() >= respawn_at:
            spare = _fork_spare(listener, prime_fd)
            poller.register(spare, select.POLLIN)
            respawn_at = None
        window.run_due(time.monotonic())


def _drained(fd: int) -> bool:
    """Read what the pipe holds; False at EOF."""
    try:
        return bool(os.read(fd, 4096))
    except BlockingIOError:
        return True
    except OSError:
        return False


def _spare_took(fd: int) -> bool:
    """Whether the spare behind pipe `fd` (now readable) took a request, rather than died waiting."""
    try:
        return os.read(fd, 1) == _TOOK
    except OSError:
        return False


def _fork_spare(listener: _socket.socket, prime_fd: int) -> int:
    """Fork the child that takes the next request; returns the pipe on which it says it did (then EOF)."""
    took_r, took_w = os.pipe2(os.O_CLOEXEC)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(took_r)
        os._exit(child_outcome(lambda: _spare(listener, prime_fd, took_w, zygote)))
    os.close(took_w)
    return took_r


def _spare(listener: _socket.socket, prime_fd: int, took_w: int, zygote: int) -> int:
    """The spare: a keeper and its worker (berth.shim.keeper); the worker waits for a connection, then becomes
    the shim it asks for."""
    set_pdeathsig(_signal.SIGKILL)  # a spare never outlives its zygote; the shim it becomes does
    if os.getppid() != zygote:
        return 0
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    if prime_fd >= 0:
        os.close(prime_fd)
    set_name(b"berth-spare")
    keeper = KeeperLink(start_keeper(spare=True))
    set_name(b"berth-spare-w")
    while True:
        try:
            conn = _socket.socket(fileno=listener._accept()[0])  # type: ignore[attr-defined]
            break
        except (InterruptedError, BlockingIOError, ConnectionAbortedError):
            continue
        except OSError as exc:
            note(f"accept failed: {exc}")
            return 1
    keeper.took()  # the keeper stops dying with the zygote, in a session of its own; this worker dies with it
    os.setsid()
    listener.close()
    os.write(took_w, _TOOK)
    os.close(took_w)  # the zygote forks the next spare now
    try:
        argv, fds = _take(conn)
    finally:
        conn.close()
    if argv is None:
        return 2
    return _become_shim(argv, fds, keeper)


def _recv_request(conn: _socket.socket) -> tuple[bytes, list[int]]:
    data, fds = b"", []
    space = _socket.CMSG_SPACE(_FDS * 4 + 16)
    while not data.endswith(b"\n"):
        chunk, ancdata, _, _ = conn.recvmsg(65536, space, _socket.MSG_CMSG_CLOEXEC)
        fds += received_fds(ancdata)
        if not chunk or len(data) + len(chunk) > MAX_REQUEST:
            for fd in fds:
                os.close(fd)
            raise OSError("incomplete request")
        data += chunk
    return data, fds


def _reply(conn: _socket.socket, obj: dict[str, object]) -> None:
    try:
        conn.sendall(minijson.dumps(obj).encode() + b"\n")
    except OSError:
        pass


def _take(conn: _socket.socket) -> tuple[list[str] | None, list[int]]:
    """Read the request on `conn` and answer it: (the shim's argv, its stdout and stderr), or (None, []) when
    it was refused."""
    conn.settimeout(5.0)
    try:
        data, fds = _recv_request(conn)
    except OSError as exc:
        note(f"request failed: {exc!r}")
        return None, []
    try:
        req = minijson.loads(data.decode())
    except ValueError:
        req = None
    argv = req.get("argv") if isinstance(req, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or len(fds) != _FDS:
        for fd in fds:
            os.close(fd)
        _reply(conn, {"ok": False, "error": "bad request"})
        return None, []
    _reply(conn, {"ok": True, "pid": os.getpid()})
    return argv, fds


def _become_shim(argv: list[str], fds: list[int], keeper: KeeperLink) -> int:
    """`python -m berth.shim ARGV` with stdout/stderr = `fds`, in this process (the keeper's worker)."""
    null = os.open(os.devnull, os.O_RDONLY)
    for target, fd in ((0, null), (1, fds[0]), (2, fds[1])):
        os.dup2(fd, target)
    keep = keeper.sock.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)
    set_name(b"berth-shim-w")
    from berth.shim.main import main as shim_main

    return shim_main(argv, forked=True, keeper=keeper)
