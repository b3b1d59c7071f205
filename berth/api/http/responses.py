"""Response types a handler returns; the server turns each into HTTP/1.1 bytes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["EmptyResponse", "Hijacked", "JSONResponse", "RawResponse", "Response", "StreamResponse"]

Headers = list[tuple[str, str]]


class Response:
    """Base: a status and extra headers (name, value) added to the common ones."""

    def __init__(self, status: int = 200, headers: Headers | None = None) -> None:
        self.status = status
        self.headers: Headers = list(headers or [])


class RawResponse(Response):
    """A complete body sent with Content-Length."""

    def __init__(
        self,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        status: int = 200,
        headers: Headers | None = None,
    ) -> None:
        super().__init__(status, headers)
        self.body = body
        self.content_type = content_type


class JSONResponse(RawResponse):
    """A JSON document (Go's json.Encoder style: compact, newline-terminated)."""

    def __init__(self, obj: Any, status: int = 200, headers: Headers | None = None) -> None:
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        super().__init__(body, "application/json", status, headers)
        self.obj = obj


class EmptyResponse(Response):
    """No body (204 by default; 200/201/304 with Content-Length: 0 where the API wants it)."""

    def __init__(self, status: int = 204, headers: Headers | None = None) -> None:
        super().__init__(status, headers)


class StreamResponse(Response):
    """A chunked body produced by an async iterator.

    Headers are flushed before the first chunk is awaited (the `wait` endpoint depends on it), unless
    `wait_first` is set: then the first chunk is awaited first, so an exception raised before it
    still becomes a normal HTTP error. Once headers are out, errors can only be reported in-band.
    """

    def __init__(
        self,
        body: AsyncIterator[bytes],
        content_type: str = "application/json",
        status: int = 200,
        headers: Headers | None = None,
        wait_first: bool = False,
    ) -> None:
        super().__init__(status, headers)
        self.body = body
        self.content_type = content_type
        self.wait_first = wait_first


class Hijacked(Response):
    """Returned by a handler that took over the connection with `await req.hijack(...)`."""

    def __init__(self) -> None:
        super().__init__(101)
