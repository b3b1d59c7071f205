"""Parent/child sync messages (runtime layer): JSON objects over a SOCK_SEQPACKET socketpair.

    runtime (R)                  intermediate (C1)              init / exec process (C2)
        | -- fork ------------------> |
        |  (R puts C1 in the cgroups) |
        | -- {"go"} ----------------> |  setns / unshare
        |                             | -- fork -------------------> |
        | <-- {"pid": host pid} ----- |  _exit(0)                    |  rootfs, console, user, caps
        | <-------------------------------------- {"ready"} or {"error": msg}
        |  (create returns; init blocks on exec.fifo until `start`)
"""

from __future__ import annotations

import json
import socket
from typing import Any

__all__ = ["Channel", "pair"]


class Channel:
    """One end of the sync socketpair."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, **msg: Any) -> None:
        self.sock.send(json.dumps(msg).encode())

    def recv(self) -> dict[str, Any] | None:
        """The next message, or None at EOF (every peer closed its end)."""
        data = self.sock.recv(65536)
        if not data:
            return None
        obj: dict[str, Any] = json.loads(data)
        return obj

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


def pair() -> tuple[Channel, Channel]:
    """(parent end, child end); both close on exec."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return Channel(a), Channel(b)
