"""An attached session on a hijacked connection: raw terminal, stdin pump, output copy, resize, signals."""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C module: `signal` builds enums, ~3 ms of every attached `run`'s start-up
import os
import sys

# threading and time are imported where used: a plain `exec` or `run` needs neither
TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from berth.client import Client
    from berth.client.http import Connection, Response

__all__ = ["Session", "forward_signals", "parse_detach_keys", "resize", "terminal_size", "watch_resize"]

NOT_FORWARDED = frozenset(("SIGCHLD", "SIGPIPE", "SIGURG", "SIGWINCH", "SIGKILL", "SIGSTOP"))


def parse_detach_keys(spec: str) -> bytes:
    """"ctrl-p,ctrl-q" -> b"\\x10\\x11" (docker's term.ToBytes)."""
    out = bytearray()
    for key in spec.split(","):
        key = key.strip()
        if key.startswith("ctrl-") and len(key) == 6:
            c = key[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            else:
                specials = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
                if c not in specials:
                    raise ValueError(f"Unknown character: '{key}'")
                out.append(specials[c])
        elif len(key) == 1:
            out += key.encode()
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


def terminal_size() -> tuple[int, int] | None:
    """(height, width) of the terminal on stdout, or None."""
    for fd in (1, 0, 2):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        return size.lines, size.columns
    return None


def resize(client: Client, path: str, retries: int = 1) -> None:
    """POST <path>?h=&w= with the local terminal size (retried like docker on start)."""
    from berth.client import APIError
    size = terminal_size()
    if size is None:
        return
    for attempt in range(retries):
        try:
            client.post(path, h=size[0], w=size[1])
            return
        except APIError:
            if attempt + 1 == retries:
                sys.stderr.write("failed to resize tty, using default size\n")
            else:
                import time

                time.sleep(0.1 * (attempt + 1))


def _background(fn: Callable[[], object]) -> None:
    import threading

    def safe() -> None:
        try:
            fn()
        except Exception:
            pass
    threading.Thread(target=safe, daemon=True).start()


def _signal_names() -> dict[int, str]:
    """Signal numbers to their names (of two names for a number, the first in sorted order: SIGABRT, SIGIO)."""
    names: dict[int, str] = {}
    for name in dir(_signal):
        if name.startswith("SIG") and not name.startswith("SIG_"):
            names.setdefault(getattr(_signal, name), name)
    return names


class _Handlers:
    """Signal handlers installed for the length of a `with` block, the previous ones restored after."""

    def __init__(self, handlers: dict[int, Callable[[int, object], None]]) -> None:
        self.handlers = handlers
        self.saved: dict[int, Any] = {}

    def __enter__(self) -> None:
        for signum, handler in self.handlers.items():
            try:
                self.saved[signum] = _signal.signal(signum, handler)
            except (OSError, ValueError):
                continue

    def __exit__(self, *_exc: object) -> None:
        for signum, old in self.saved.items():
            _signal.signal(signum, old)


def watch_resize(client: Client, path: str) -> _Handlers:
    """Resize on SIGWINCH while inside the block."""
    return _Handlers({_signal.SIGWINCH: lambda *_: _background(lambda: resize(client, path))})


def forward_signals(client: Client, cid: str, enabled: bool = True) -> _Handlers:
    """Forward received signals to the container as POST /containers/{id}/kill?signal=NAME."""
    names = _signal_names() if enabled else {}

    def handler(signum: int, _frame: object) -> None:
        name = names[signum].removeprefix("SIG")
        _background(lambda: client.post(f"/containers/{cid}/kill", signal=name))

    return _Handlers({num: handler for num, name in names.items() if name not in NOT_FORWARDED})


class RawTerminal:
    """Put the local terminal (stdin) in raw mode inside the block; always restore it."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and os.isatty(0)
        self.saved: list[Any] = []

    def __enter__(self) -> None:
        if self.enabled:
            import termios
            import tty

            self.saved = termios.tcgetattr(0)
            tty.setraw(0)

    def __exit__(self, *_exc: object) -> None:
        if self.saved:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, self.saved)


def _chunks(conn: Connection) -> Iterator[bytes]:
    """The hijacked stream's chunks, to its end. Each wait also ends when a signal comes, whichever of our
    threads the kernel gave it to: Python runs handlers in the main thread only, and a signal to forward (or
    a resize) must not wait for the container's next output."""
    import select

    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        old = _signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except ValueError:  # not the main thread: no handler would run here anyway
        os.close(r)
        os.close(w)
        yield from iter(conn.recv, b"")
        return
    sock = conn.sock.fileno()
    try:
        while True:
            if not conn.rfile.buf:  # bytes read along with the headers come first
                ready = select.select([sock, r], [], [])[0]
                if r in ready:
                    os.read(r, 512)  # the handlers have run as select returned
                if sock not in ready:
                    continue
            data = conn.recv()
            if not data:
                return
            yield data
    finally:
        _signal.set_wakeup_fd(old)
        os.close(r)
        os.close(w)


class Session:
    """Copies stdin to a hijacked stream and its output (raw or multiplexed) to stdout/stderr."""

    def __init__(self, resp: Response, tty: bool, stdin: bool, detach_keys: bytes = b"\x10\x11",
                 stdin_fd: int = 0) -> None:
        self.resp = resp
        self.tty = tty
        self.stdin = stdin
        self.keys = detach_keys if tty and os.isatty(stdin_fd) else b""
        self.stdin_fd = stdin_fd
        self.detached = False

    def _pump(self) -> None:
        conn = self.resp.conn
        matched = b""
        try:
            while True:
                data = os.read(self.stdin_fd, 32768)
                if not data:
                    break
                if self.keys:
                    data, matched = self._scan(matched + data)
                    if self.detached:
                        conn.send(data)
                        conn.sock.shutdown(2)
                        return
                if data:
                    conn.send(data)
        except OSError:
            return
        conn.close_write()

    def _scan(self, data: bytes) -> tuple[bytes, bytes]:
        """Find the detach sequence; hold back a partial match at the end."""
        if self.keys in data:
            self.detached = True
            return data[:data.index(self.keys)], b""
        for n in range(min(len(self.keys) - 1, len(data)), 0, -1):
            if data.endswith(self.keys[:n]):
                return data[:-n], data[-n:]
        return data, b""

    def run(self) -> bool:
        """Stream until the daemon closes the output; True when the user detached."""
        sys.stdout.flush()
        with RawTerminal(self.tty and self.stdin):
            if self.stdin:
                import threading

                threading.Thread(target=self._pump, daemon=True).start()
            out = sys.stdout.buffer
            chunks = _chunks(self.resp.conn)
            try:
                if self.tty:
                    for data in chunks:
                        out.write(data)
                        out.flush()
                else:
                    from berth.client.stdcopy import demux
                    demux(chunks, out, sys.stderr.buffer)
            except OSError:
                pass
        return self.detached
