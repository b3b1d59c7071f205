"""asyncio + h11 HTTP/1.1 server on unix (and tcp) sockets: keep-alive, streamed bodies, Docker's hijack."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any

import h11

from berth import errdefs
from berth.api.http.request import Headers, HijackReader, Request
from berth.api.http.responses import (
    Hijacked,
    JSONResponse,
    RawResponse,
    Response,
    StreamResponse,
)
from berth.api.http.router import Router

__all__ = ["App", "HttpServer", "serve"]

log = logging.getLogger(__name__)

App = Callable[[Request], Awaitable[Response]]
ErrorMapper = Callable[[BaseException], Response]
READ_SIZE = 65536
MAX_HEAD = 1 << 20
DRAIN_LIMIT = 1 << 20


def _plain_error(exc: BaseException) -> Response:
    return JSONResponse({"message": str(exc) or type(exc).__name__}, status=500)


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    return any(k.lower() == name for k, _ in headers)


def _has_body(event: h11.Request) -> bool:
    for name, value in event.headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


DEFAULT_SOCKET_GROUP = "berth"


def _give_to_group(path: str, group: str) -> None:
    """Like dockerd's -G: root:`group` when that group exists; a missing default group leaves it root's."""
    if not group:
        return
    try:
        gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
    except KeyError:
        if group == DEFAULT_SOCKET_GROUP:
            return
        raise errdefs.InvalidParameter(f"group {group} not found") from None
    if os.geteuid() == 0:
        os.chown(path, 0, gid)


def _bind_unix(path: str, group: str) -> socket.socket:
    """A listening unix socket at `path`, mode 0660 root:`group`, never wider than that (fchmod before bind)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.fchmod(sock.fileno(), 0o660)  # Linux creates the socket file with the socket inode's mode & ~umask
        sock.bind(path)
        os.chmod(path, 0o660)
        _give_to_group(path, group)
        sock.listen(128)
    except BaseException:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    return sock


def _http_date() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


class _ClientGone(Exception):
    """The peer closed the connection while a response was streaming."""


class _Connection:
    """One client connection: a loop of requests until close, hijack or a protocol error."""

    def __init__(
        self, app: App, on_error: ErrorMapper, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.app = app
        self.on_error = on_error
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self.request: h11.Request | None = None
        self.body_done = asyncio.Event()

    async def run(self) -> None:
        try:
            while True:
                event = await self._next_event()
                if not isinstance(event, h11.Request):
                    return
                if not await self._serve_one(event):
                    return
                self.conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            await self._bad_request(exc)
        except (ConnectionError, _ClientGone, asyncio.IncompleteReadError):
            pass
        finally:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    # -- reading --------------------------------------------------------------------------------
    async def _next_event(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self.conn.they_are_waiting_for_100_continue:
                await self._send(h11.InformationalResponse(status_code=100, headers=[]))
            self.conn.receive_data(await self.reader.read(READ_SIZE))

    async def receive_body(self) -> bytes | None:
        """Next chunk of the current request's body, None at its end (BodySource for Request)."""
        if self.body_done.is_set():
            return None
        event = await self._next_event()
        if isinstance(event, h11.Data):
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            self.body_done.set()
            return None
        raise h11.RemoteProtocolError("connection closed inside the request body")

    async def _drain_body(self, limit: int) -> bool:
        seen = 0
        while (chunk := await self.receive_body()) is not None:
            seen += len(chunk)
            if seen > limit:
                return False
        return True

    # -- writing --------------------------------------------------------------------------------
    async def _send(self, event: Any) -> None:
        data = self.conn.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    def _head(self, resp: Response, extra: list[tuple[str, str]]) -> h11.Response:
        headers = [*resp.headers, *extra, ("Date", _http_date())]
        return h11.Response(status_code=resp.status, headers=headers, reason=_reason(resp.status))

    async def _serve_one(self, event: h11.Request) -> bool:
        self.request = event
        self.body_done.clear()
        if not _has_body(event):
            await self.receive_body()  # takes the EndOfMessage now: no body will come
        req = Request(
            event.method.decode("ascii", "replace"),
            event.target.decode("latin-1"),
            Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers),
            self,
        )
        try:
            resp = await self.app(req)
        except Exception as exc:  # the app maps errors itself; this is the last line of defence
            log.exception("handler failed")
            resp = self.on_error(exc)
        if req.hijacked:
            await self._after_hijack(req, resp)
            return False
        if isinstance(resp, Hijacked):
            log.error("%s %s returned Hijacked without hijacking", req.method, req.path)
            resp = self.on_error(RuntimeError("handler did not hijack the connection"))
        await self._respond(req, resp)
        if self.conn.their_state is h11.SEND_BODY and not await self._drain_body(DRAIN_LIMIT):
            return False
        return self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE

    async def _respond(self, req: Request, resp: Response) -> None:
        head_only = req.method == "HEAD"
        if isinstance(resp, StreamResponse):
            await self._stream(req, resp, head_only)
            return
        extra: list[tuple[str, str]] = []
        body = b""
        if isinstance(resp, RawResponse):
            body = resp.body
            extra = [("Content-Type", resp.content_type), ("Content-Length", str(len(body)))]
        elif resp.status not in (204, 304) and not _has(resp.headers, "content-length"):
            extra = [("Content-Length", "0")]
        # one write for head and body: the client wakes once and the kernel sends one message
        data = self.conn.send(self._head(resp, extra)) or b""
        if body and not head_only:
            data += self.conn.send(h11.Data(data=body)) or b""
        data += self.conn.send(h11.EndOfMessage()) or b""
        self.writer.write(data)
        await self.writer.drain()

    async def _stream(self, req: Request, resp: StreamResponse, head_only: bool) -> None:
        body = resp.body
        first: bytes | None = None
        try:
            if resp.wait_first:
                try:
                    first = await anext(body, b"")
                except Exception as exc:
                    await self._respond(req, self.on_error(exc))
                    return
            await self._send(self._head(resp, [("Content-Type", resp.content_type)]))
            if not head_only:
                await self._pump(first, body)
            await self._send(h11.EndOfMessage())
        finally:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _pump(self, first: bytes | None, body: AsyncIterator[bytes]) -> None:
        """Copy chunks to the client; stop early (ClientGone) if the client hangs up meanwhile."""
        writer = asyncio.create_task(self._write_chunks(first, body))
        watcher = asyncio.create_task(self._watch_hangup())
        try:
            done, _ = await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if writer not in done:
                raise _ClientGone()
            writer.result()
        finally:
            for task in (writer, watcher):
                task.cancel()
            for task in (writer, watcher):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _write_chunks(self, first: bytes | None, body: AsyncIterator[bytes]) -> None:
        if first:
            await self._send(h11.Data(data=first))
        try:
            async for chunk in body:
                if chunk:
                    await self._send(h11.Data(data=chunk))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:  # after the headers an HTTP error is impossible: end the body cleanly
            log.exception("response stream failed")

    async def _watch_hangup(self) -> None:
        await self.body_done.wait()
        while True:
            data = await self.reader.read(READ_SIZE)
            if not data:
                return
            self.conn.receive_data(data)

    # -- hijack ---------------------------------------------------------------------------------
    async def hijack(self, content_type: str, headers: list[tuple[str, str]]) -> tuple[HijackReader, Any]:
        """Drain the body, write the 101/200 head raw, hand over the socket (BodySource for Request)."""
        await self._drain_body(1 << 62)
        upgrade = self.request is not None and any(k.lower() == b"upgrade" for k, _ in self.request.headers)
        if upgrade:
            lines = ["HTTP/1.1 101 UPGRADED", f"Content-Type: {content_type}"]
            lines += ["Connection: Upgrade", "Upgrade: tcp"]
        else:
            lines = ["HTTP/1.1 200 OK", f"Content-Type: {content_type}"]
        lines += [f"{k}: {v}" for k, v in headers]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await self.writer.drain()
        prefix, _ = self.conn.trailing_data
        return HijackReader(prefix, self.reader), self.writer

    async def _after_hijack(self, req: Request, resp: Response) -> None:
        if isinstance(resp, Hijacked) or self.writer.is_closing():
            return
        text = resp.obj.get("message", "") if isinstance(resp, JSONResponse) else ""
        if not text:
            return
        data = text.encode() + b"\r\n"
        if req.hijack_content_type.endswith("multiplexed-stream"):
            data = bytes([3, 0, 0, 0]) + len(data).to_bytes(4, "big") + data
        with contextlib.suppress(ConnectionError):
            self.writer.write(data)
            await self.writer.drain()

    async def _bad_request(self, exc: h11.RemoteProtocolError) -> None:
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        status = exc.error_status_hint or 400
        body = json.dumps({"message": f"bad request: {exc}"}, separators=(",", ":")).encode() + b"\n"
        resp = RawResponse(body, "application/json", status, [("Connection", "close")])
        with contextlib.suppress(Exception):
            extra = [("Content-Type", resp.content_type), ("Content-Length", str(len(body)))]
            await self._send(self._head(resp, extra))
            await self._send(h11.Data(data=body))
            await self._send(h11.EndOfMessage())


class HttpServer:
    """Listens on `unix://PATH` and `tcp://HOST:PORT` addresses and serves `app` on each connection."""

    def __init__(self, app: App, on_error: ErrorMapper = _plain_error,
                 socket_group: str = DEFAULT_SOCKET_GROUP) -> None:
        self.app = app
        self.on_error = on_error
        self.socket_group = socket_group
        self._servers: list[asyncio.Server] = []
        self._unix_paths: list[str] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await _Connection(self.app, self.on_error, reader, writer).run()
        except asyncio.CancelledError:
            pass  # close() ended this connection; a cancelled task here makes asyncio log noise
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def start(self, listeners: Sequence[str | socket.socket]) -> None:
        for spec in listeners:
            self._servers.append(await self._listen(spec))

    async def _listen(self, spec: str | socket.socket) -> asyncio.Server:
        if isinstance(spec, socket.socket):
            if spec.family == socket.AF_UNIX:
                return await asyncio.start_unix_server(self._client, sock=spec)
            return await asyncio.start_server(self._client, sock=spec)
        if spec.startswith("unix://") or spec.startswith("/"):
            path = spec.removeprefix("unix://")
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            server = await asyncio.start_unix_server(self._client, sock=_bind_unix(path, self.socket_group))
            self._unix_paths.append(path)
            return server
        if spec.startswith("tcp://"):
            host, _, port = spec.removeprefix("tcp://").rpartition(":")
            host = host.strip("[]") or "127.0.0.1"
            return await asyncio.start_server(self._client, host, int(port or 2375))
        raise ValueError(f"unsupported listen address {spec!r}")

    def addresses(self) -> list[Any]:
        return [s.getsockname() for srv in self._servers for s in srv.sockets]

    async def close(self) -> None:
        """Stop listening, end open connections (streams, hijacks) and remove unix socket files."""
        for srv in self._servers:
            srv.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for srv in self._servers:
            with contextlib.suppress(Exception):
                await srv.wait_closed()
        for path in self._unix_paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self._servers.clear()
        self._unix_paths.clear()


async def serve(router: Router, listeners: Sequence[str | socket.socket]) -> None:
    """Serve the Docker API (router + middleware) on the listeners until cancelled."""
    from berth.api.middleware import Application, error_response

    server = HttpServer(Application(router), on_error=error_response)
    await server.start(listeners)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()
