"""Runs a command on a pseudo-terminal of a given size, so tests can type into interactive CLIs."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time


class PtyProcess:
    """A child process whose stdin/stdout/stderr are a pty we hold the master of."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int = 30, cols: int = 100) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, preexec_fn=None, close_fds=True,
                                     pass_fds=(), restore_signals=True)
        os.close(slave)
        self.buffer = b""

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_until(self, needle: bytes, timeout: float = 20) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{needle!r} not seen; got {self.buffer[-500:]!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise EOFError(f"{needle!r} not seen before EOF; got {self.buffer[-500:]!r}")
                self.buffer += chunk
        return self.buffer

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.killpg(self.proc.pid, signal.SIGWINCH)

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.buffer += os.read(self.master, 4096)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                self.proc.kill()
                raise TimeoutError(f"process did not exit; output {self.buffer[-500:]!r}")
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
