"""Stream formats of the API: stdcopy framing, JSON message streams and jsonmessage progress/errors."""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from berth.api.errors import message_for

__all__ = [
    "STDERR",
    "STDIN",
    "STDOUT",
    "SYSTEMERR",
    "error_message",
    "human_size",
    "json_line",
    "json_message",
    "json_stream",
    "progress_bar",
    "progress_message",
    "stdcopy_frame",
]

log = logging.getLogger(__name__)

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
_HEADER = struct.Struct(">BxxxI")


def stdcopy_frame(stream: int, data: bytes) -> bytes:
    """One multiplexed-stream frame: [stream,0,0,0,len uint32 big-endian] + payload."""
    return _HEADER.pack(stream, len(data)) + data


def json_line(obj: Any) -> bytes:
    """A JSON object followed by a newline (Go's json.Encoder output: events, stats, wait)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def json_message(obj: Any) -> bytes:
    """A JSON message-stream element: the object followed by CRLF (pull, push, build, load)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\r\n"


def error_message(message: str, code: int | None = None) -> dict[str, Any]:
    """The in-band error of a JSON message stream; the CLI prints `error` and exits with `code`."""
    detail: dict[str, Any] = {"message": message}
    if code is not None:
        detail = {"code": code, "message": message}
    return {"errorDetail": detail, "error": message}


def human_size(size: float) -> str:
    """go-units HumanSize: decimal units, 4 significant digits ("3.645kB", "300.3kB")."""
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.4g}{units[i]}"


def progress_bar(current: int, total: int) -> str:
    """jsonmessage's progress text as the daemon renders it (width 200): "[==>   ]  3.6kB/300kB"."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    pct = min(int(current / total * 100) // 2, 50)
    bar = "[" + "=" * pct + ">" + " " * max(50 - pct, 0) + "] "
    if current > total:
        return bar + f"{human_size(current):>8}"
    return bar + f"{human_size(current):>8}/{human_size(total)}"


def progress_message(
    status: str, id_: str | None = None, current: int | None = None, total: int | None = None
) -> dict[str, Any]:
    """A jsonmessage status line; with `current` it carries progressDetail and the progress text."""
    msg: dict[str, Any] = {"status": status}
    if current is not None:
        detail = {"current": current} if not total else {"current": current, "total": total}
        msg["progressDetail"] = detail
        msg["progress"] = progress_bar(current, total or 0)
    elif id_ is not None:
        msg["progressDetail"] = {}
    if id_ is not None:
        msg["id"] = id_
    return msg


async def json_stream(source: AsyncIterable[dict[str, Any]], raise_before_first: bool = False) -> AsyncIterator[bytes]:
    """Encode message objects as a JSON message stream; an exception becomes a final in-band error.

    With `raise_before_first`, an exception before the first object propagates, so that a
    StreamResponse(wait_first=True) turns it into a plain HTTP error (pull: 404 for a missing image).
    """
    started = False
    try:
        async for obj in source:
            started = True
            yield json_message(obj)
    except Exception as exc:  # after the first chunk an HTTP error is impossible: report in-band
        if raise_before_first and not started:
            raise
        log.debug("stream failed", exc_info=True)
        yield json_message(error_message(message_for(exc)))
