"""Joins a hijacked API connection to a shim stream: framing out, stdin in, detach keys, stdin-once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import Any, Protocol

from berth.daemon.containers.detachkeys import DetachScanner
from berth.daemon.containers.ports import ShimStream

__all__ = ["ClientReader", "ClientWriter", "pump"]

log = logging.getLogger(__name__)
EXIT_FRAME = 3


class ClientReader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


class ClientWriter(Protocol):
    def write(self, data: bytes) -> Any: ...
    async def drain(self) -> None: ...
    def close(self) -> Any: ...


async def _copy_out(stream: ShimStream, writer: ClientWriter, tty: bool, want: frozenset[int]) -> int | None:
    """Shim frames -> client; returns the exit code if the process ended (None if the stream broke)."""
    while True:
        frame = await stream.read_frame()
        if frame is None:
            return None
        kind, payload = frame
        if kind == EXIT_FRAME:
            import json

            try:
                return int(json.loads(payload or b"{}").get("exit_code", 0))
            except ValueError:
                return 0
        if kind not in want or not payload:
            continue
        if tty:
            writer.write(payload)
        else:
            writer.write(struct.pack(">BxxxI", kind, len(payload)) + payload)
        await writer.drain()


async def _copy_in(reader: ClientReader, stream: ShimStream, scanner: DetachScanner, close_at_eof: bool) -> bool:
    """Client stdin -> shim; True ends the attach (detach keys typed, or stdin ended and is not to be closed).

    As moby: at the client's stdin EOF the container's stdin is closed only for StdinOnce without a TTY;
    otherwise the attach ends and the container goes on (the docker CLI half-closes after its detach keys).
    """
    while True:
        data = await reader.read(32768)
        if not data:
            rest = scanner.flush()
            if rest:
                await stream.write_stdin(rest)
            if close_at_eof:
                await stream.close_stdin()
                return False
            return True
        passed, detached = scanner.feed(data)
        if passed:
            await stream.write_stdin(passed)
        if detached:
            return True


async def pump(
    reader: ClientReader,
    writer: ClientWriter,
    stream: ShimStream,
    *,
    tty: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    stdin_once: bool,
    detach_keys: bytes,
) -> int | None:
    """Runs both directions until the process exits, the client detaches, or a side goes away."""
    want = frozenset(k for k, on in ((1, stdout), (2, stderr)) if on)
    out_task = asyncio.ensure_future(_copy_out(stream, writer, tty, want))
    in_task: asyncio.Future[bool] | None = None
    if stdin:
        close_at_eof = stdin_once and not tty
        in_task = asyncio.ensure_future(_copy_in(reader, stream, DetachScanner(detach_keys), close_at_eof))
    code: int | None = None
    try:
        while True:
            pending = [t for t in (out_task, in_task) if t is not None and not t.done()]
            if not pending:
                break
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if out_task in done:
                code = out_task.result()
                break
            if in_task is not None and in_task in done:
                exc = in_task.exception()
                if exc is not None or in_task.result():
                    break  # detached, or the client's side broke: end this attach only
    except (ConnectionError, OSError) as exc:
        log.debug("attach ended: %s", exc)
    finally:
        for t in (out_task, in_task):
            if t is not None and not t.done():
                t.cancel()
                with contextlib.suppress(BaseException):
                    await t
        with contextlib.suppress(Exception):
            await stream.close()
        with contextlib.suppress(Exception):
            writer.close()
    return code
