"""A minimal single-threaded event loop for the shim (shim layer): epoll and timers, nothing else.

No signal handlers: children are watched through pidfds, which keeps the `signal` module (and `enum`)
out of an idle shim.
"""

from __future__ import annotations

import heapq
import select
import sys
import time
from collections.abc import Callable

__all__ = ["Loop"]

Callback = Callable[[], None]
_READ = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR
_WRITE = select.EPOLLOUT


class _Interest:
    __slots__ = ("reader", "writer")

    def __init__(self) -> None:
        self.reader: Callback | None = None
        self.writer: Callback | None = None

    def mask(self) -> int:
        return (select.EPOLLIN if self.reader else 0) | (select.EPOLLOUT if self.writer else 0)


class Loop:
    """Runs callbacks when fds are ready or timers fire; stops on `stop()`."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._fds: dict[int, _Interest] = {}
        self._timers: list[tuple[float, int, Callback]] = []
        self._cancelled: set[int] = set()
        self._seq = 0
        self._running = False
        self.dispatched = 0  # fd events handled so far: the shim's idle check compares it

    def _update(self, fd: int, interest: _Interest) -> None:
        mask = interest.mask()
        registered = fd in self._fds
        if mask and registered:
            self._epoll.modify(fd, mask)
        elif mask:
            self._epoll.register(fd, mask)
            self._fds[fd] = interest
        elif registered:
            self.forget(fd)

    def _interest(self, fd: int) -> _Interest:
        return self._fds.get(fd) or _Interest()

    def set_reader(self, fd: int, cb: Callback | None) -> None:
        """Call `cb` whenever `fd` is readable or hung up (None: stop)."""
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
        if self._fds.pop(fd, None) is not None:
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass

    def call_later(self, delay: float, cb: Callback) -> int:
        """Run `cb` after `delay` seconds; returns a handle for `cancel`."""
        self._seq += 1
        heapq.heappush(self._timers, (time.monotonic() + delay, self._seq, cb))
        return self._seq

    def cancel(self, handle: int) -> None:
        self._cancelled.add(handle)

    def stop(self) -> None:
        self._running = False

    def _next_timeout(self) -> float:
        while self._timers and self._timers[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(self._timers)[1])
        if not self._timers:
            return -1
        return max(0.0, self._timers[0][0] - time.monotonic())

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._running and self._timers and self._timers[0][0] <= now:
            _, seq, cb = heapq.heappop(self._timers)
            if seq in self._cancelled:
                self._cancelled.discard(seq)
            else:
                cb()

    def run(self) -> None:
        """Serve until `stop()`."""
        self._running = True
        while self._running:
            for fd, events in self._epoll.poll(self._next_timeout()):
                try:
                    self._dispatch(fd, events)
                except Exception:  # a bug must not take the container's monitor down: drop that fd
                    _report_bug(f"fd {fd}")
                    self.forget(fd)
                if not self._running:
                    break
            try:
                self._run_timers()
            except Exception:
                _report_bug("timer")

    def _dispatch(self, fd: int, events: int) -> None:
        self.dispatched += 1
        interest = self._fds.get(fd)
        if interest and events & _READ and interest.reader:
            interest.reader()
        interest = self._fds.get(fd)
        if interest and events & (_WRITE | select.EPOLLERR) and interest.writer:
            interest.writer()

    def close(self) -> None:
        self._epoll.close()


def _report_bug(where: str) -> None:
    import traceback  # only when something went wrong

    traceback.print_exc()
    print(f"shim loop: the callback of {where} failed; serving on", file=sys.stderr, flush=True)
