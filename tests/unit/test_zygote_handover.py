"""The daemon's zygote client: a zygote that answers and closes at once still counts as having taken the request."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path

from berth.zygote.client import Zygote


def _quick_zygote(path: str, ready: threading.Event) -> None:
    """Reads one request line (with its fds), answers ok and closes at once, as a fast zygote does."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    ready.set()
    conn, _ = srv.accept()
    data = b""
    while not data.endswith(b"\n"):
        chunk, ancdata, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(64))
        for _level, _kind, payload in ancdata:
            for i in range(0, len(payload) - len(payload) % 4, 4):
                os.close(int.from_bytes(payload[i:i + 4], "little"))
        data += chunk
    conn.sendall(b'{"ok":true,"pid":1}\n')
    conn.close()
    srv.close()


def test_a_zygote_that_answers_and_closes_at_once_took_the_request(tmp_path: Path) -> None:
    zygote = Zygote(str(tmp_path), "python", {})
    ready = threading.Event()
    server = threading.Thread(target=_quick_zygote, args=(zygote.sock_path, ready))
    server.start()
    ready.wait(5)

    async def closed_peer(sock: socket.socket, data: bytes) -> None:
        raise BrokenPipeError(32, "Broken pipe")  # what a send after the zygote closed gives

    async def hand_over() -> bool:
        setattr(asyncio.get_running_loop(), "sock_sendall", closed_peer)  # noqa: B010
        r, w = os.pipe()
        try:
            return await zygote._hand_over(["--id", "x"], (r, w))
        finally:
            os.close(r)
            os.close(w)

    assert asyncio.run(hand_over()) is True  # never ZygoteUnavailable: that would start a second shim
    server.join(5)
