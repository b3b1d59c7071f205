"""Docker's multiplexed stream framing: 8-byte header [stream,0,0,0,uint32 BE length] + payload."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import BinaryIO

__all__ = ["STDERR", "STDIN", "STDOUT", "SYSTEMERR", "StreamError", "demux", "frame", "iter_frames"]

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3


class StreamError(Exception):
    """The daemon reported an error inside the stream (stream 3) or sent a bad header."""


def frame(stream: int, payload: bytes) -> bytes:
    """One frame as the daemon writes it."""
    return bytes((stream, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload


def iter_frames(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Split arriving byte chunks into (stream, payload) frames, whatever the chunk boundaries."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= 8:
            stream, size = buf[0], int.from_bytes(buf[4:8], "big")
            if stream not in (STDIN, STDOUT, STDERR, SYSTEMERR):
                raise StreamError(f"Unrecognized input header: {stream}")
            if len(buf) < 8 + size:
                break
            payload = bytes(buf[8:8 + size])
            del buf[:8 + size]
            yield stream, payload
    if buf:
        raise StreamError("unexpected EOF inside a stream frame")


def demux(chunks: Iterable[bytes], stdout: BinaryIO | Callable[[bytes], object],
          stderr: BinaryIO | Callable[[bytes], object]) -> None:
    """Copy frames to stdout/stderr (stdin echoes go to stdout); stream 3 raises StreamError."""
    out = stdout if callable(stdout) else _writer(stdout)
    err = stderr if callable(stderr) else _writer(stderr)
    for stream, payload in iter_frames(chunks):
        if stream == SYSTEMERR:
            raise StreamError(payload.decode("utf-8", "replace"))
        (err if stream == STDERR else out)(payload)


def _writer(f: BinaryIO) -> Callable[[bytes], object]:
    def write(data: bytes) -> None:
        f.write(data)
        f.flush()
    return write
