"""One connection to shim.sock (shim layer): a request line, a reply line, then frames for stream ops."""

from __future__ import annotations

import _socket
import os
from collections.abc import Callable

from berth.shim.loop import Loop
from berth.shim.protocol import (
    MAX_LINE,
    FrameDecoder,
    ProtocolError,
    decode_message,
    encode_frame,
    encode_message,
)

__all__ = ["Client", "FrameSink", "RequestHandler"]

# output frames for a client that does not read are dropped beyond this much buffered data
MAX_BUFFERED = 4 << 20

RequestHandler = Callable[["Client", dict[str, object]], None]
FrameSink = Callable[[int, bytes], None]


class Client:
    """A client connection; never lets its peer's failures escape into the shim."""

    __slots__ = (
        "_closing",
        "_decoder",
        "_dropping",
        "_frame_sink",
        "_got_request",
        "_handler",
        "_loop",
        "_on_close",
        "_rbuf",
        "_sock",
        "_wbuf",
        "closed",
        "fd",
    )

    def __init__(self, loop: Loop, sock: _socket.socket, handler: RequestHandler) -> None:
        self._loop = loop
        self._sock = sock
        self.fd = sock.fileno()
        self._handler = handler
        self._rbuf = bytearray()
        self._wbuf = bytearray()
        self._decoder: FrameDecoder | None = None
        self._frame_sink: FrameSink | None = None
        self._on_close: list[Callable[[], None]] = []
        self._closing = False
        self._dropping = False
        self._got_request = False
        self.closed = False
        sock.setblocking(False)
        loop.set_reader(self.fd, self._on_readable)

    # -- input ----------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        try:
            data = self._sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        try:
            if self._decoder is not None:
                self._feed_frames(data)
            elif not self._got_request:
                self._feed_request(data)
        except ProtocolError as exc:
            if self._decoder is not None:
                self.close()  # a broken frame stream cannot carry an error reply
            else:
                self.fail(str(exc))

    def _feed_request(self, data: bytes) -> None:
        self._rbuf += data
        end = self._rbuf.find(b"\n")
        if end < 0:
            if len(self._rbuf) > MAX_LINE:
                raise ProtocolError("request line too long")
            return
        line, rest = bytes(self._rbuf[:end]), bytes(self._rbuf[end + 1:])
        self._rbuf.clear()
        self._got_request = True  # one request per connection; later bytes are ignored unless streaming
        self._handler(self, decode_message(line))
        if rest and self._decoder is not None:
            self._feed_frames(rest)

    def _feed_frames(self, data: bytes) -> None:
        assert self._decoder is not None
        for kind, payload in self._decoder.feed(data):
            if self._frame_sink is not None:
                self._frame_sink(kind, payload)

    def request_taken(self) -> None:
        """Its one request was read by an earlier worker (a client handed over while it waits for the reply)."""
        self._got_request = True

    @property
    def quiet(self) -> bool:
        """Nothing queued for the peer and no stream under way."""
        return not self._wbuf and self._decoder is None and not self._closing

    def start_stream(self, sink: FrameSink | None) -> None:
        """After the reply: read frames from the peer and pass them to `sink` (None: discard them)."""
        self._decoder = FrameDecoder()
        self._frame_sink = sink

    def pause_reading(self, paused: bool) -> None:
        """Stop (or resume) reading frames, for stdin back-pressure."""
        if not self.closed and self._decoder is not None:
            self._loop.set_reader(self.fd, None if paused else self._on_readable)

    # -- output ---------------------------------------------------------------------------------
    def reply(self, obj: dict[str, object]) -> None:
        self._send(encode_message(obj))

    def fail(self, error: str, kind: str = "invalid") -> None:
        """Reply an error and close."""
        self.reply({"ok": False, "error": error, "kind": kind})
        self.end()

    def send_frame(self, kind: int, payload: bytes, droppable: bool = True) -> None:
        """Queue a frame; output frames are dropped while the peer is too far behind."""
        if droppable and len(self._wbuf) > MAX_BUFFERED:
            if not self._dropping:
                os.write(2, f"client fd {self.fd} is not reading: dropping output\n".encode())
                self._dropping = True
            return
        self._dropping = False
        self._send(encode_frame(kind, payload))

    def _send(self, data: bytes) -> None:
        if self.closed:
            return
        if not self._wbuf:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.close()
                return
            data = data[sent:]
            if not data:
                return
        self._wbuf += data
        self._loop.set_writer(self.fd, self._on_writable)

    def _on_writable(self) -> None:
        try:
            sent = self._sock.send(self._wbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        del self._wbuf[:sent]
        if not self._wbuf:
            self._loop.set_writer(self.fd, None)
            if self._closing:
                self.close()

    def end(self) -> None:
        """Close once everything queued is sent."""
        self._closing = True
        if not self._wbuf:
            self.close()

    def flush_blocking(self, timeout: float) -> None:
        """Send what is queued, waiting up to `timeout` (used when the shim is about to exit)."""
        if self.closed or not self._wbuf:
            return
        try:
            self._sock.settimeout(timeout)
            self._sock.sendall(self._wbuf)
        except OSError:
            pass
        self._wbuf.clear()

    # -- lifetime -------------------------------------------------------------------------------
    def on_close(self, cb: Callable[[], None]) -> None:
        self._on_close.append(cb)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._loop.forget(self.fd)
        self._sock.close()
        self._wbuf.clear()
        callbacks, self._on_close = self._on_close, []
        for cb in callbacks:
            cb()
