"""Test helper: one request line to a unix socket, and the one-line answer (the zygote's and the shim's protocol)."""

from __future__ import annotations

import os
import socket

from berth.shim.protocol import short_socket_path


def ask_line(path: str, payload: bytes, timeout: float = 10.0) -> bytes:
    """Send `payload` to the unix socket `path`; what comes back up to a newline (or EOF)."""
    arg, dirfd = short_socket_path(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(arg)
        finally:
            if dirfd is not None:
                os.close(dirfd)
        s.sendall(payload)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data
