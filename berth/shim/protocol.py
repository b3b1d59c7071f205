"""Wire format of shim.sock (shim layer), shared by the shim and berth.daemon.shimclient.

A connection carries one JSON request line and one JSON reply line; stream ops (attach, exec) then
switch the connection to frames:

    client                                  shim
      | {"op":"attach",...}\n  ------------> |
      | <------------  {"ok":true}\n         |
      | <------------  [1][len][stdout]      |   kinds 1 stdout, 2 stderr
      | [0][len][stdin]  ------------------> |   kind 0 stdin, length 0 = stdin EOF
      | <------------  [3][len]{"exit_code"} |   then EOF
"""

from __future__ import annotations

import _socket
import os
import struct

from berth.util import minijson

__all__ = [
    "received_fds",
    "FRAME_EXIT",
    "FRAME_STDERR",
    "FRAME_STDIN",
    "FRAME_STDOUT",
    "HEADER",
    "MAX_FRAME",
    "MAX_LINE",
    "FrameDecoder",
    "ProtocolError",
    "decode_message",
    "encode_frame",
    "encode_message",
    "short_socket_path",
]

FRAME_STDIN = 0
FRAME_STDOUT = 1
FRAME_STDERR = 2
FRAME_EXIT = 3
HEADER = struct.Struct(">BI")
MAX_FRAME = 1 << 24
MAX_LINE = 1 << 20
_SUN_PATH_MAX = 100


class ProtocolError(ValueError):
    """The peer sent something this protocol does not allow."""


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """One frame: kind byte, big-endian 32-bit length, payload."""
    if not 0 <= kind <= 255:
        raise ProtocolError(f"bad frame kind {kind}")
    if len(payload) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(payload)} bytes is too large")
    return HEADER.pack(kind, len(payload)) + payload


class FrameDecoder:
    """Incremental frame parser: feed it bytes, get whole frames back."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add `data`; return every frame now complete, in order."""
        self._buf += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buf) >= HEADER.size:
            kind, size = HEADER.unpack_from(self._buf)
            if size > MAX_FRAME:
                raise ProtocolError(f"frame of {size} bytes is too large")
            end = HEADER.size + size
            if len(self._buf) < end:
                break
            frames.append((kind, bytes(self._buf[HEADER.size:end])))
            del self._buf[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)


def encode_message(obj: dict[str, object]) -> bytes:
    """A request or reply as one JSON line."""
    return minijson.dumps(obj).encode() + b"\n"


def decode_message(line: bytes) -> dict[str, object]:
    """Parse one JSON line into an object; ProtocolError if it is not a JSON object."""
    try:
        obj = minijson.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a message must be a JSON object")
    return obj


def short_socket_path(path: str, pid: int | None = None) -> tuple[str, int | None]:
    """A path to bind or connect `path` by, short enough for sun_path, and the dir fd to close after.

    Long paths go through the /proc magic link of an O_PATH descriptor of the directory.
    """
    if len(path.encode()) < _SUN_PATH_MAX:
        return path, None
    fd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    who = "self" if pid is None else str(pid)
    return f"/proc/{who}/fd/{fd}/{os.path.basename(path)}", fd


def received_fds(ancdata: list[tuple[int, int, bytes]]) -> list[int]:
    """The fds an SCM_RIGHTS message carried (recvmsg's ancillary data)."""
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += memoryview(data[: len(data) - len(data) % 4]).cast("i").tolist()
    return fds
