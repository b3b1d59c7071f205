"""A subprocess's output as an async stream of chunks, the process killed if the reader stops early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

__all__ = ["output_of"]


async def output_of(proc: asyncio.subprocess.Process, chunk: int = 1 << 16) -> AsyncIterator[bytes]:
    """`proc`'s stdout chunk by chunk, then its exit waited for; killed and reaped if the stream is dropped."""
    assert proc.stdout is not None
    try:
        while data := await proc.stdout.read(chunk):
            yield data
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
