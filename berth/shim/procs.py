"""A process the shim watches (shim layer): init or an exec; its output fan-out, stdin and exit."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time
from collections.abc import Callable

from berth.shim.clients import Client
from berth.shim.jsonlog import JsonLog
from berth.shim.loop import Loop
from berth.shim.protocol import FRAME_EXIT, FRAME_STDERR, FRAME_STDIN
from berth.shim.stdio import ProcIO
from berth.util import minijson

__all__ = ["EXIT_GRACE", "Proc", "StdinSink", "exit_code_of"]

# after a process exits, how long its output may still arrive (from children that hold the pipes)
EXIT_GRACE = 2.0
STDIN_HIGH_WATER = 1 << 20
_STREAM_NAMES = {FRAME_STDERR: "stderr"}


def exit_code_of(status: int) -> int:
    """A wait status as Docker's exit code: the code, or 128 + the signal."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class StdinSink:
    """Buffers stdin for a process; EOF closes the pipe, or sends the EOF character to a pty."""

    __slots__ = ("_buf", "_closing", "_io", "_loop", "_paused")

    def __init__(self, loop: Loop, io: ProcIO) -> None:
        self._loop = loop
        self._io = io
        self._buf = bytearray()
        self._closing = False
        self._paused: list[Client] = []

    @property
    def pending(self) -> bool:
        """Input is queued, or a writer waits for room."""
        return bool(self._buf) or bool(self._paused)

    @property
    def open(self) -> bool:
        return self._io.stdin_fd >= 0 and not self._closing

    def write(self, data: bytes, sender: Client | None = None) -> None:
        if not self.open:
            return
        self._buf += data
        self._flush()
        if sender is not None and len(self._buf) > STDIN_HIGH_WATER:
            sender.pause_reading(True)
            self._paused.append(sender)

    def close(self) -> None:
        """Stdin EOF, after what is buffered."""
        if self._io.stdin_fd < 0 or self._closing:
            return
        if self._io.tty:
            self._buf += bytes([_veof(self._io.stdin_fd)])
            self._flush()
            return
        self._closing = True
        self._flush()

    def _flush(self) -> None:
        fd = self._io.stdin_fd
        if fd < 0:
            self._buf.clear()
            return
        try:
            while self._buf:
                del self._buf[: os.write(fd, self._buf)]
        except (BlockingIOError, InterruptedError):
            self._loop.set_writer(fd, self._flush)
            return
        except OSError:  # the reader is gone: stdin is over
            self._buf.clear()
            self._closing = True
        self._loop.set_writer(fd, None)
        self._resume()
        if self._closing and not self._io.tty:
            self._loop.forget(fd)
            self._io.close_stdin()

    def _resume(self) -> None:
        paused, self._paused = self._paused, []
        for client in paused:
            client.pause_reading(False)

    def drop(self) -> None:
        """The process is gone: forget buffered input and resume paused writers."""
        self._buf.clear()
        if self._io.stdin_fd >= 0:
            self._loop.set_writer(self._io.stdin_fd, None)
        self._resume()


def _veof(fd: int) -> int:
    try:
        return termios.tcgetattr(fd)[6][termios.VEOF][0]  # type: ignore[no-any-return]
    except (termios.error, IndexError, TypeError):
        return 4


class Proc:
    """A running process: reads its output, logs it (init only), fans it out, and reports its exit."""

    def __init__(self, loop: Loop, pid: int, io: ProcIO, log: JsonLog | None,
                 on_done: Callable[[Proc], None]) -> None:
        self.loop = loop
        self.pid = pid
        self.io = io
        self.log = log
        self.stdin = StdinSink(loop, io)
        self.exit_code: int | None = None
        self.finished_at = 0
        self.done = False
        self._on_done = on_done
        self._grace: int | None = None
        self._subscribers: dict[Client, frozenset[int]] = {}
        for fd, kind in io.outputs:
            loop.set_reader(fd, self._reader(fd, kind))

    @classmethod
    def finished(cls, loop: Loop, pid: int, exit_code: int, finished_at: int) -> Proc:
        """The record of an exec that ended under an earlier worker."""
        proc = cls(loop, pid, ProcIO.adopt(False, [], -1, -1), None, lambda _: None)
        proc.exit_code, proc.finished_at, proc.done = exit_code, finished_at, True
        return proc

    @property
    def running(self) -> bool:
        return self.exit_code is None

    @property
    def quiet(self) -> bool:
        """Running with nothing under way: no one attached, no input queued, no partial log line."""
        return (self.running and not self._subscribers and not self.stdin.pending and self._grace is None
                and (self.log is None or not self.log.holds_partial))

    def _reader(self, fd: int, kind: int) -> Callable[[], None]:
        def on_readable() -> None:
            self._read(fd, kind)
        return on_readable

    def _read(self, fd: int, kind: int) -> bool:
        """Read one chunk; False when nothing more is there now."""
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:  # EIO from a pty master whose slave side is gone
            data = b""
        if not data:
            self.loop.forget(fd)
            self.io.close_output(fd)
            if self.exit_code is not None and not self.io.outputs:
                self.finish()
            return False
        self._emit(kind, data)
        return True

    def _emit(self, kind: int, data: bytes) -> None:
        if self.log is not None:
            self.log.write(_STREAM_NAMES.get(kind, "stdout"), data)
        for client, kinds in list(self._subscribers.items()):
            if kind in kinds:
                client.send_frame(kind, data)

    # -- clients --------------------------------------------------------------------------------
    def subscribe(self, client: Client, kinds: frozenset[int], stdin: bool) -> None:
        """Stream this process's output to `client` (and its stdin frames to the process)."""
        if self.done:
            client.start_stream(None)
            client.send_frame(FRAME_EXIT, self._exit_payload(), droppable=False)
            client.end()
            return
        self._subscribers[client] = kinds
        client.on_close(lambda: self.unsubscribe(client))
        client.start_stream(self._stdin_frames(client) if stdin else None)

    def unsubscribe(self, client: Client) -> None:
        self._subscribers.pop(client, None)

    def _stdin_frames(self, client: Client) -> Callable[[int, bytes], None]:
        def sink(kind: int, payload: bytes) -> None:
            if kind != FRAME_STDIN:
                return
            if payload:
                self.stdin.write(payload, client)
            else:
                self.stdin.close()
        return sink

    def resize(self, height: int, width: int) -> None:
        if self.io.master >= 0:
            fcntl.ioctl(self.io.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    # -- exit -----------------------------------------------------------------------------------
    def exited(self, status: int) -> None:
        """The process was reaped with `status`; finish once its output has ended (or soon after)."""
        if self.exit_code is not None:
            return
        self.exit_code = exit_code_of(status)
        self.finished_at = time.time_ns()
        if not self.io.outputs:
            self.finish()
        else:
            self._grace = self.loop.call_later(EXIT_GRACE, self.finish)

    def finish(self) -> None:
        """Take the output that is left, close the stdio, tell every subscriber, then `on_done`."""
        if self.done:
            return
        self.done = True
        if self._grace is not None:
            self.loop.cancel(self._grace)
        for fd, kind in list(self.io.outputs):
            while fd in [f for f, _ in self.io.outputs] and self._read(fd, kind):
                pass
        if self.log is not None:
            self.log.flush()
        self.stdin.drop()
        for fd, _ in self.io.outputs:
            self.loop.forget(fd)
        if self.io.stdin_fd >= 0:
            self.loop.forget(self.io.stdin_fd)
        self.io.close()
        payload = self._exit_payload()
        subscribers, self._subscribers = self._subscribers, {}
        for client in subscribers:
            client.send_frame(FRAME_EXIT, payload, droppable=False)
            client.end()
        self._on_done(self)

    def _exit_payload(self) -> bytes:
        return minijson.dumps({"exit_code": self.exit_code}).encode()
