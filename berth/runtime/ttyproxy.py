"""Foreground terminals without --console-socket (runtime layer): the runtime keeps the pty master and
copies between it and its own stdio, as `runc run` does for an interactive container."""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import struct
import sys

import berth.runtime.console  # noqa: F401 - the container side needs it loaded before pivot_root

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["TtyProxy"]


class TtyProxy:
    """A socketpair standing in for the console socket; `serve()` relays until the pty closes."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def console_socket(self) -> socket.socket:
        """The end handed to the container process (it sends the pty master through it)."""
        return self.theirs

    def serve(self) -> None:
        """Receive the master, relay stdin/stdout through it (raw mode on a terminal) until it closes."""
        self.theirs.close()
        _, fds, _, _ = socket.recv_fds(self.ours, 4096, 1)
        self.ours.close()
        if not fds:
            return
        master = fds[0]
        stdin = sys.stdin.fileno()
        saved = self._raw(stdin, master)
        try:
            self._relay(stdin, master)
        finally:
            if saved is not None:
                import termios

                termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
            os.close(master)

    @staticmethod
    def _raw(stdin: int, master: int) -> Any:
        if not os.isatty(stdin):
            return None
        import fcntl
        import termios
        import tty

        saved = termios.tcgetattr(stdin)
        tty.setraw(stdin)

        def resize(*_: object) -> None:
            size = fcntl.ioctl(stdin, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
            fcntl.ioctl(master, termios.TIOCSWINSZ, size)

        resize()
        signal.signal(signal.SIGWINCH, resize)
        return saved

    @staticmethod
    def _relay(stdin: int, master: int) -> None:
        stdout = sys.stdout.fileno()
        readers = [master, stdin]
        while True:
            ready, _, _ = select.select(readers, [], [])
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    return
                os.write(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    os.write(master, data)
                else:
                    readers.remove(stdin)
