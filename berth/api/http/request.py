"""The Request object handlers receive: query, headers, path params, body access, filters and hijack."""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Protocol
from urllib.parse import parse_qsl

from berth import errdefs

__all__ = ["BodySource", "Headers", "HijackReader", "HijackWriter", "Query", "Request", "parse_bool"]

_FALSE = frozenset({"", "0", "no", "false", "none"})


def parse_bool(value: str | None) -> bool:
    """Docker's query boolean: "", 0, no, false, none (any case) are false; everything else true."""
    return value is not None and value.strip().lower() not in _FALSE


class Query:
    """A query-string multi-dict: `get` gives the first value, `getall` every value in order."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs = list(pairs)

    @classmethod
    def parse(cls, query: str) -> Query:
        return cls(parse_qsl(query, keep_blank_values=True))

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self._pairs:
            if k == key:
                return v
        return default

    def getall(self, key: str) -> list[str]:
        return [v for k, v in self._pairs if k == key]

    def bool(self, key: str, default: builtins.bool = False) -> builtins.bool:
        value = self.get(key)
        return default if value is None else parse_bool(value)

    def __contains__(self, key: object) -> builtins.bool:
        return any(k == key for k, _ in self._pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._pairs))

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


class Headers:
    """Request headers with case-insensitive lookup."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs = [(k.lower(), v) for k, v in pairs]

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for k, v in self._pairs:
            if k == name:
                return v
        return default

    def getall(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self._pairs if k == name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k == name.lower() for k, _ in self._pairs)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


class HijackReader:
    """The client's side of a hijacked connection: bytes buffered after the request head come first."""

    def __init__(self, prefix: bytes, reader: Any) -> None:
        self._prefix = prefix
        self._reader = reader

    async def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n < 0:
                rest: bytes = await self._reader.read()
                head, self._prefix = self._prefix + rest, b""
                return head
            head, self._prefix = self._prefix[:n], self._prefix[n:]
            return head
        data: bytes = await self._reader.read(n)
        return data

    async def readexactly(self, n: int) -> bytes:
        head = b""
        if self._prefix:
            head, self._prefix = self._prefix[:n], self._prefix[n:]
        rest: bytes = await self._reader.readexactly(n - len(head)) if n > len(head) else b""
        return head + rest

    def at_eof(self) -> bool:
        return not self._prefix and bool(self._reader.at_eof())


class HijackWriter(Protocol):
    """The raw write side of a hijacked connection (an asyncio.StreamWriter)."""

    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    def write_eof(self) -> None: ...
    def can_write_eof(self) -> bool: ...
    def close(self) -> None: ...
    async def wait_closed(self) -> None: ...


class BodySource(Protocol):
    """What the server gives a Request: body chunks and the hijack switch."""

    async def receive_body(self) -> bytes | None: ...
    async def hijack(self, content_type: str, headers: list[tuple[str, str]]) -> tuple[HijackReader, Any]: ...


class Request:
    """One API request as handlers see it."""

    def __init__(
        self,
        method: str,
        target: str,
        headers: Headers,
        source: BodySource,
    ) -> None:
        path, _, query = target.partition("?")
        self.target = target
        self.method = method
        self.raw_path = path
        self.path = path
        self.query = Query.parse(query)
        self.headers = headers
        self.path_params: dict[str, str] = {}
        self.api_version: tuple[int, int] = (1, 44)
        self.response_headers: list[tuple[str, str]] = []
        self.hijacked = False
        self.hijack_content_type = ""
        self._source = source
        self._body: bytes | None = None
        self._streamed = False

    def query_bool(self, key: str, default: bool = False) -> bool:
        return self.query.bool(key, default)

    def query_int(self, key: str, default: int | None = None) -> int | None:
        value = self.query.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise errdefs.InvalidParameter(f"invalid value for {key}: {value!r}") from None

    async def body_stream(self) -> AsyncIterator[bytes]:
        """The request body chunk by chunk (Content-Length or chunked); usable once."""
        if self._body is not None:
            if self._body:
                yield self._body
            return
        if self._streamed:
            raise errdefs.System("request body already consumed")
        self._streamed = True
        while (chunk := await self._source.receive_body()) is not None:
            if chunk:
                yield chunk

    async def body(self) -> bytes:
        if self._body is None:
            parts = [chunk async for chunk in self.body_stream()]
            self._body = b"".join(parts)
        return self._body

    async def json(self) -> Any:
        """The body as JSON; an empty body is {}; bad JSON is InvalidParameter."""
        raw = await self.body()
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise errdefs.InvalidParameter(f"invalid JSON: {exc}") from None

    def filters(self, key: str = "filters") -> dict[str, list[str]]:
        """Docker's filters JSON, map form {"k":{"v":true}} or list form {"k":["v"]}."""
        return parse_filters(self.query.get(key) or "")

    async def hijack(self, content_type: str) -> tuple[HijackReader, Any]:
        """Take over the connection: 101 UPGRADED if the client asked to upgrade, else 200 raw."""
        self.hijacked = True
        self.hijack_content_type = content_type
        return await self._source.hijack(content_type, self.response_headers)


def parse_filters(raw: str) -> dict[str, list[str]]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise errdefs.InvalidParameter("invalid filter") from None
    if not isinstance(data, dict):
        raise errdefs.InvalidParameter("invalid filter")
    out: dict[str, list[str]] = {}
    for key, values in data.items():
        if isinstance(values, dict | list):
            out[str(key)] = [str(v) for v in values]
        else:
            raise errdefs.InvalidParameter("invalid filter")
    return out
