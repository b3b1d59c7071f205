"""Bridge from an async byte stream (a request body) to a blocking `read(n)` used in a worker thread."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterable, Iterable
from typing import Any

__all__ = ["IterReader", "QueueReader", "StreamAborted"]

_EOF = b""


class StreamAborted(Exception):
    """The producer stopped before the end of the stream (e.g. the client went away)."""


class QueueReader:
    """Chunks put by the event loop, read by one worker thread; bounded, so the producer waits."""

    def __init__(self, depth: int = 16) -> None:
        self._q: queue.Queue[bytes | None] = queue.Queue(depth)
        self._buf = bytearray()
        self._eof = False
        self._ended = False

    async def feed(self, chunks: AsyncIterable[bytes], consumer: asyncio.Future[Any]) -> None:
        """Put every chunk, then the end; stop early when the consumer finished (failed, or needs no more)."""
        try:
            async for chunk in chunks:
                if chunk and not await self._put(chunk, consumer):
                    return
        except BaseException:
            self.close()
            raise
        await self._put(_EOF, consumer)
        self._ended = True

    async def _put(self, item: bytes, consumer: asyncio.Future[Any]) -> bool:
        try:
            self._q.put_nowait(item)  # the common case: no thread hop per chunk
            return True
        except queue.Full:
            pass
        while not consumer.done():
            try:
                await asyncio.to_thread(self._q.put, item, True, 0.5)
                return True
            except queue.Full:
                continue
        return False

    def close(self) -> None:
        """Unless the end was queued, make a waiting reader fail (the upload was cut short)."""
        if self._ended:
            return
        self._ended = True
        while True:
            try:
                self._q.put_nowait(None)
                return
            except queue.Full:
                try:
                    self._q.get_nowait()
                except queue.Empty:
                    pass

    def read(self, n: int = -1, /) -> bytes:
        while not self._eof and (n < 0 or len(self._buf) < n):
            item = self._q.get()
            if item is None:
                raise StreamAborted("the upload was interrupted")
            if item == _EOF:
                self._eof = True
                break
            self._buf += item
        return _take(self._buf, n)


class IterReader:
    """`read(n)` over an iterable of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = bytearray()

    def read(self, n: int = -1, /) -> bytes:
        while n < 0 or len(self._buf) < n:
            chunk = next(self._it, None)
            if chunk is None:
                break
            self._buf += chunk
        return _take(self._buf, n)


def _take(buf: bytearray, n: int) -> bytes:
    """The first `n` bytes (all when n < 0) cut from `buf` (bytearray: appends and cuts are amortised O(1))."""
    if n < 0 or n >= len(buf):
        out = bytes(buf)
        buf.clear()
        return out
    out = bytes(buf[:n])
    del buf[:n]
    return out
