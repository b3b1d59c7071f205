"""The zygote process (zygote layer): preload the shim and runtime, then fork shims on request.

    python -S -m berth.zygote --socket PATH [--pid-file PATH] [--prime-fd FD]

Protocol on PATH (unix stream, one request per connection): the daemon sends one JSON line
`{"argv": [SHIM ARGS...]}` with two fds (SCM_RIGHTS): the shim's stdout and stderr. The zygote forks a
child that behaves as `python -m berth.shim ARGS` (in a session of its own; never the daemon's child) and
replies `{"ok":true,"pid":N}` (or `{"ok":false,"error":"..."}`). The zygote ignores SIGCHLD, so the kernel
reaps the shims it forked; the child restores the default for its own children. The shim's result line
reaches the daemon on the stdout it passed.

On FD (a pipe from the daemon) each byte is a poke: a create, start or exec is coming, and the zygote holds
the kernel's fast path for cgroup migrations open for a while (berth.kernel.cgroupwarm). EOF there ends the
priming, not the serving.
"""

from __future__ import annotations

import _socket
import array
import gc
import os
import select
import sys
import time

from berth.kernel.cgroupwarm import MigrationWindow
from berth.kernel.ksm import ksm_running, mark_mergeable
from berth.shim.protocol import short_socket_path
from berth.shim.sysutil import child_outcome, note
from berth.util import minijson

_signal = __import__("_signal")  # the constants without the `signal` module, which loads `enum`

__all__ = ["main"]

MAX_REQUEST = 1 << 20
_FDS = 2


def _preload() -> None:
    """Import everything a shim and its in-process runtime use, so that forked shims share it."""
    import berth.shim.loop
    import berth.shim.main
    import berth.shim.service
    import berth.util.atomic  # noqa: F401
    from berth.shim import inproc

    inproc.preload()


def set_name(name: bytes) -> None:
    """The process's comm (what ps and /proc/PID/comm show)."""
    try:
        with open("/proc/self/comm", "wb") as f:
            f.write(name)
    except OSError:
        pass


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
    """Fork a shim for each connection on `listener`; migrate while `window` wants it, poked by `prime_fd`."""
    poller = select.poll()
    poller.register(listener.fileno(), select.POLLIN)
    if prime_fd >= 0:
        poller.register(prime_fd, select.POLLIN)
    while True:
        wait = window.timeout(time.monotonic())
        for fd, _ in poller.poll(None if wait is None else wait * 1000):
            if fd == prime_fd:
                if _drained(prime_fd):
                    window.poke(time.monotonic())
                else:  # the daemon closed its end: priming ends, serving goes on
                    poller.unregister(prime_fd)
                    prime_fd = -1
            else:
                _accept_one(listener)
        window.run_due(time.monotonic())


def _drained(fd: int) -> bool:
    """Read what the pipe holds; False at EOF."""
    try:
        return bool(os.read(fd, 4096))
    except BlockingIOError:
        return True
    except OSError:
        return False


def _accept_one(listener: _socket.socket) -> None:
    try:
        conn = _socket.socket(fileno=listener._accept()[0])  # type: ignore[attr-defined]
    except (InterruptedError, BlockingIOError):
        return
    except OSError as exc:
        note(f"accept failed: {exc}")
        return
    try:
        _handle(listener, conn)
    except Exception as exc:
        note(f"request failed: {exc!r}")
    finally:
        conn.close()


def _recv_request(conn: _socket.socket) -> tuple[bytes, list[int]]:
    data, fds = b"", []
    space = _socket.CMSG_SPACE(_FDS * 4 + 16)
    while not data.endswith(b"\n"):
        chunk, ancdata, _, _ = conn.recvmsg(65536, space, _socket.MSG_CMSG_CLOEXEC)
        for level, kind, payload in ancdata:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                arr = array.array("i")
                arr.frombytes(payload[: len(payload) - len(payload) % arr.itemsize])
                fds += list(arr)
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


def _handle(listener: _socket.socket, conn: _socket.socket) -> None:
    conn.settimeout(5.0)
    data, fds = _recv_request(conn)
    try:
        req = minijson.loads(data.decode())
        argv = req.get("argv") if isinstance(req, dict) else None
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or len(fds) != _FDS:
            _reply(conn, {"ok": False, "error": "bad request"})
            return
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        pid = os.fork()
        if pid == 0:
            _child(listener, conn, argv, fds)
        _reply(conn, {"ok": True, "pid": pid})
    finally:
        for fd in fds:
            os.close(fd)


def _child(listener: _socket.socket, conn: _socket.socket, argv: list[str], fds: list[int]) -> None:
    """`python -m berth.shim ARGV` with stdout/stderr = `fds`, in the forked copy; never returns."""

    def body() -> int:
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        listener.close()
        conn.close()
        null = os.open(os.devnull, os.O_RDONLY)
        for target, fd in ((0, null), (1, fds[0]), (2, fds[1])):
            os.dup2(fd, target)
        os.closerange(3, 1 << 20)
        set_name(b"berth-shim")
        from berth.shim.main import main as shim_main

        return shim_main(argv, forked=True)

    os._exit(child_outcome(body))
