"""A minimal single-threaded event loop for the shim (shim layer): selectors, timers, signal wakeups."""

from __future__ import annotations

import heapq
import os
import selectors
import signal
import time
from collections.abc import Callable

__all__ = ["Loop"]

Callback = Callable[[], None]


class _Interest:
    __slots__ = ("reader", "writer")

    def __init__(self) -> None:
        self.reader: Callback | None = None
        self.writer: Callback | None = None

    def mask(self) -> int:
        return (selectors.EVENT_READ if self.reader else 0) | (selectors.EVENT_WRITE if self.writer else 0)


class Loop:
    """Runs callbacks when fds are ready, timers fire or signals arrive; stops on `stop()`."""

    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._fds: dict[int, _Interest] = {}
        self._timers: list[tuple[float, int, Callback]] = []
        self._cancelled: set[int] = set()
        self._seq = 0
        self._running = False
        self._sig_r = -1
        self._sig_w = -1
        self._on_signal: dict[int, Callback] = {}

    def _update(self, fd: int, interest: _Interest) -> None:
        mask = interest.mask()
        registered = fd in self._fds
        if mask and registered:
            self._sel.modify(fd, mask)
        elif mask:
            self._sel.register(fd, mask)
            self._fds[fd] = interest
        elif registered:
            self._sel.unregister(fd)
            del self._fds[fd]

    def _interest(self, fd: int) -> _Interest:
        return self._fds.get(fd) or _Interest()

    def set_reader(self, fd: int, cb: Callback | None) -> None:
        """Call `cb` whenever `fd` is readable (None: stop)."""
        interest = self._interest(fd)
        interest.reader = cb
        self._update(fd, interest)

    def set_writer(self, fd: int, cb: Callback | None) -> None:
        """Call `cb` whenever `fd` is writable (None: stop)."""
        interest = self._interest(fd)
        interest.writer = cb
        self._update(fd, interest)

    def forget(self, fd: int) -> None:
        """Drop every interest in `fd` (call before closing it)."""
        if fd in self._fds:
            self._sel.unregister(fd)
            del self._fds[fd]

    def call_later(self, delay: float, cb: Callback) -> int:
        """Run `cb` after `delay` seconds; returns a handle for `cancel`."""
        self._seq += 1
        heapq.heappush(self._timers, (time.monotonic() + delay, self._seq, cb))
        return self._seq

    def cancel(self, handle: int) -> None:
        self._cancelled.add(handle)

    def on_signal(self, signum: int, cb: Callback) -> None:
        """Run `cb` in the loop (not in the handler) after `signum` arrives."""
        if self._sig_r < 0:
            self._sig_r, self._sig_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            signal.set_wakeup_fd(self._sig_w, warn_on_full_buffer=False)
            self.set_reader(self._sig_r, self._drain_signals)
        self._on_signal[signum] = cb
        signal.signal(signum, _noop_handler)

    def _drain_signals(self) -> None:
        try:
            data = os.read(self._sig_r, 512)
        except BlockingIOError:
            return
        for signum in set(data):
            cb = self._on_signal.get(signum)
            if cb:
                cb()

    def stop(self) -> None:
        self._running = False

    def _next_timeout(self) -> float | None:
        while self._timers and self._timers[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(self._timers)[1])
        if not self._timers:
            return None
        return max(0.0, self._timers[0][0] - time.monotonic())

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, seq, cb = heapq.heappop(self._timers)
            if seq in self._cancelled:
                self._cancelled.discard(seq)
            else:
                cb()

    def run(self) -> None:
        """Serve until `stop()`."""
        self._running = True
        while self._running:
            for key, mask in self._sel.select(self._next_timeout()):
                interest = self._fds.get(key.fd)
                if interest and mask & selectors.EVENT_READ and interest.reader:
                    interest.reader()
                interest = self._fds.get(key.fd)
                if interest and mask & selectors.EVENT_WRITE and interest.writer:
                    interest.writer()
            self._run_timers()

    def close(self) -> None:
        if self._sig_r >= 0:
            signal.set_wakeup_fd(-1)
            os.close(self._sig_r)
            os.close(self._sig_w)
            self._sig_r = self._sig_w = -1
        self._sel.close()


def _noop_handler(signum: int, frame: object) -> None:
    """Python-level handler so that the wakeup fd sees the signal; the work happens in the loop."""
