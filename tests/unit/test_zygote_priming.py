"""The zygote takes the daemon's pokes (cgroup migration priming) beside its requests, and outlives their pipe."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from berth.daemon.shimclient import python_env
from berth.zygote.client import Zygote
from tests.unixline import ask_line


def _serving(z: Zygote) -> None:
    deadline = time.monotonic() + 20
    while not os.path.exists(z.sock_path):
        assert time.monotonic() < deadline, "the zygote never served"
        time.sleep(0.02)


def test_pokes_never_block_the_daemon_and_the_zygote_serves_on_after_their_pipe_closes(tmp_path: Path) -> None:
    async def scenario() -> tuple[bytes, bytes, int | None]:
        z = Zygote(str(tmp_path), sys.executable, python_env())
        await z.start()
        try:
            for _ in range(100_000):  # far more than the pipe holds while the zygote still loads: never blocks
                z.prime()
            await asyncio.to_thread(_serving, z)
            for _ in range(50):
                z.prime()
                await asyncio.sleep(0.001)
            first = await asyncio.to_thread(ask_line, z.sock_path, b'{"argv": "not a list"}\n')
            z._close_prime()  # as when the daemon dies: EOF on the pipe
            z.prime()  # no pipe: nothing happens
            await asyncio.sleep(0.05)
            second = await asyncio.to_thread(ask_line, z.sock_path, b'{"argv": 1}\n')
            assert z.proc is not None
            return first, second, z.proc.returncode
        finally:
            await z.stop()

    first, second, code = asyncio.run(scenario())
    assert first == second == b'{"ok":false,"error":"bad request"}\n'
    assert code is None  # still running before stop
