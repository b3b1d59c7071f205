"""The shim's side of a process's stdio (shim layer): pipes, or a pty master received on a console socket."""

from __future__ import annotations

import _socket
import os
import select

from berth.shim.protocol import FRAME_STDERR, FRAME_STDOUT, received_fds, short_socket_path

__all__ = ["ConsoleSocket", "ProcIO"]

CONSOLE_TIMEOUT = 30.0


class ConsoleSocket:
    """A unix socket the runtime connects to, sending the pty master with SCM_RIGHTS (runc's protocol)."""

    __slots__ = ("_dirfd", "_sock", "arg", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        if os.path.lexists(path):
            os.unlink(path)
        self.arg, self._dirfd = short_socket_path(path, os.getpid())
        self._sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            self._sock.bind(self.arg)
            self._sock.listen(1)
        except OSError:
            self.close()
            raise

    def receive(self, timeout: float = CONSOLE_TIMEOUT) -> int:
        """The master fd sent by the runtime (which has already connected and sent it)."""
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            raise OSError("the runtime sent no console")
        conn = _socket.socket(fileno=self._sock._accept()[0])  # type: ignore[attr-defined]
        try:
            conn.settimeout(timeout)
            _, ancdata, _, _ = conn.recvmsg(4096, _socket.CMSG_SPACE(4 * 4))
            fds = received_fds(ancdata)
        finally:
            conn.close()
        if not fds:
            raise OSError("the runtime's console message carried no fd")
        for extra in fds[1:]:
            os.close(extra)
        os.set_inheritable(fds[0], False)
        return fds[0]

    def close(self) -> None:
        self._sock.close()
        if self._dirfd is not None:
            os.close(self._dirfd)
            self._dirfd = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class ProcIO:
    """Stdio of one container process as the shim holds it, made before the runtime runs.

    Pipe mode: `child` are the fds the runtime (and so the process) gets; after the runtime returns the
    shim keeps the read ends of stdout/stderr and the write end of stdin. TTY mode: the runtime gets a
    console socket; `master` is then both output and stdin.
    """

    __slots__ = ("child", "console", "err_reader", "master", "outputs", "stdin_fd", "tty")

    def __init__(self, tty: bool, stdin: bool, console_path: str) -> None:
        self.tty = tty
        self.master = -1
        self.stdin_fd = -1
        self.outputs: list[tuple[int, int]] = []
        self.child: tuple[int, int, int] | None = None
        self.console: ConsoleSocket | None = None
        self.err_reader = -1
        if tty:
            self.console = ConsoleSocket(console_path)
        else:
            self._make_pipes(stdin)

    @classmethod
    def adopt(cls, tty: bool, outputs: list[tuple[int, int]], stdin_fd: int, master: int) -> ProcIO:
        """The stdio of a process already running, as an earlier worker held it (see berth.shim.keeper)."""
        io = cls.__new__(cls)
        io.tty, io.outputs, io.stdin_fd, io.master = tty, outputs, stdin_fd, master
        io.child, io.console, io.err_reader = None, None, -1
        return io

    def _make_pipes(self, stdin: bool) -> None:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if stdin:
            in_r, self.stdin_fd = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(self.stdin_fd, False)
        else:
            in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
        self.outputs = [(out_r, FRAME_STDOUT), (err_r, FRAME_STDERR)]
        self.err_reader = err_r
        self.child = (in_r, out_w, err_w)

    def runtime_args(self) -> list[str]:
        """Options the runtime command needs for this stdio."""
        return ["--console-socket", self.console.arg] if self.console else []

    def after_spawn(self) -> None:
        """The runtime has returned successfully: drop the child's ends, take the pty master."""
        self._close_child()
        if self.console is not None:
            try:
                self.master = self.console.receive()
            finally:
                self.console.close()
                self.console = None
            os.set_blocking(self.master, False)
            self.outputs = [(self.master, FRAME_STDOUT)]
            self.stdin_fd = self.master

    def _close_child(self) -> None:
        if self.child is not None:
            for fd in self.child:
                os.close(fd)
            self.child = None

    def close_output(self, fd: int) -> None:
        """An output reached its end; the pty master stays open while it is also stdin."""
        self.outputs = [(f, k) for f, k in self.outputs if f != fd]
        if fd != self.stdin_fd:
            os.close(fd)

    def close_stdin(self) -> None:
        """Close the stdin pipe (a pty master is closed by `close` only)."""
        if self.stdin_fd >= 0 and not self.tty:
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def close(self) -> None:
        """Close everything still open (after the process ended, or when its start failed)."""
        self._close_child()
        if self.console is not None:
            self.console.close()
            self.console = None
        fds = {fd for fd, _ in self.outputs} | {self.stdin_fd, self.master}
        for fd in fds - {-1}:
            try:
                os.close(fd)
            except OSError:
                pass
        self.outputs, self.stdin_fd, self.master = [], -1, -1
