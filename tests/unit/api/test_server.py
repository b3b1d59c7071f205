"""The HTTP server as a client sees it on the wire: keep-alive, versions, bodies, streams, hijack, errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from berth import errdefs
from berth.api.http.request import Request
from berth.api.http.responses import EmptyResponse, Hijacked, JSONResponse, Response, StreamResponse
from berth.api.http.router import Route
from berth.api.streams import stdcopy_frame
from tests.unit.api.harness import LoopThread, RawClient, running_api

MUX = "application/vnd.docker.multiplexed-stream"


class Gate:
    """An asyncio.Event on the server loop that the test thread can open."""

    def __init__(self) -> None:
        self.lt: LoopThread | None = None
        self.event: asyncio.Event | None = None

    def open(self) -> None:
        assert self.event is not None
        assert self.lt is not None
        self.lt.loop.call_soon_threadsafe(self.event.set)


def _test_routes(gate: Gate) -> list[Route]:
    async def echo_version(req: Request) -> Response:
        return JSONResponse({"version": list(req.api_version), "params": req.path_params})

    async def upload(req: Request) -> Response:
        sizes = [len(chunk) async for chunk in req.body_stream()]
        return JSONResponse({"total": sum(sizes)})

    async def json_body(req: Request) -> Response:
        return JSONResponse({"got": await req.json()})

    async def slow_stream(req: Request) -> Response:
        gate.event = asyncio.Event()
        event = gate.event

        async def body() -> object:
            await event.wait()
            yield b'{"StatusCode":0}\n'

        return StreamResponse(body(), "application/json")  # type: ignore[arg-type]

    async def hijack(req: Request) -> Response:
        reader, writer = await req.hijack(MUX)
        received = b""
        while data := await reader.read(4096):
            received += data
        writer.write(stdcopy_frame(1, b"got:" + received))
        writer.write(stdcopy_frame(2, b"after stdin EOF"))
        await writer.drain()
        return Hijacked()

    async def fail(req: Request) -> Response:
        kinds: dict[str, BaseException] = {
            "notfound": errdefs.NotFound("No such container: x"),
            "conflict": errdefs.Conflict("name in use"),
            "invalid": errdefs.InvalidParameter("bad"),
            "unauthorized": errdefs.Unauthorized("who"),
            "forbidden": errdefs.Forbidden("no"),
            "unavailable": errdefs.Unavailable("later"),
            "notmodified": errdefs.NotModified("already"),
            "notimpl": errdefs.NotImplementedErr("nope"),
            "oserror": FileNotFoundError(2, "No such file or directory", "/x"),
            "bug": ZeroDivisionError("division by zero"),
        }
        raise kinds[req.path_params["kind"]]

    async def nothing(req: Request) -> Response:
        return EmptyResponse()

    async def pull(req: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            if req.query_bool("missing"):
                raise errdefs.NotFound("manifest for x not found: manifest unknown")
            yield b'{"status":"Pulling"}\r\n'
            raise errdefs.System("late failure")

        return StreamResponse(body(), wait_first=True)

    async def hijack_then_fail(req: Request) -> Response:
        await req.hijack(MUX)
        raise errdefs.Conflict("container stopped meanwhile")

    return [
        Route("GET", "/echo", echo_version),
        Route("GET", "/images/{name:.*}/json", echo_version),
        Route("GET", "/containers/{id}/json", echo_version),
        Route("POST", "/upload", upload),
        Route("POST", "/json", json_body),
        Route("POST", "/wait", slow_stream),
        Route("POST", "/attach", hijack),
        Route("GET", "/fail/{kind}", fail),
        Route("POST", "/nothing", nothing),
        Route("POST", "/images/create", pull),
        Route("POST", "/exec/{id}/start", hijack_then_fail),
    ]


@pytest.fixture
def served() -> Iterator[tuple[RawClient, Gate]]:
    gate = Gate()
    with running_api([_test_routes(gate)]) as (path, lt):
        gate.lt = lt
        c = RawClient(path)
        try:
            yield c, gate
        finally:
            c.close()


def test_version_prefix_is_stripped_and_bare_path_is_1_44(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    c.request("GET", "/v1.41/echo")
    status, headers, body = c.read_response()
    assert status == 200
    assert body == b'{"version":[1,41],"params":{}}\n'
    assert headers["api-version"] == "1.44"
    assert headers["ostype"] == "linux"
    assert headers["server"].startswith("Engine/")
    c.request("GET", "/echo")  # same connection: keep-alive
    assert c.read_response()[2] == b'{"version":[1,44],"params":{}}\n'


def test_too_old_and_too_new_versions_are_refused(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    c.request("GET", "/v1.39/echo")
    status, _, body = c.read_response()
    assert status == 400
    assert body == (
        b'{"message":"client version 1.39 is too old. Minimum supported API version is 1.40, '
        b'please upgrade your client to a newer version"}\n'
    )
    c.request("GET", "/v1.45/echo")
    status, _, body = c.read_response()
    assert status == 400
    assert body == b'{"message":"client version 1.45 is too new. Maximum supported API version is 1.44"}\n'


def test_unknown_path_and_wrong_method_are_page_not_found(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    for method, path in (("GET", "/nope"), ("DELETE", "/echo"), ("GET", "/v1.44/nope/deeper")):
        c.request(method, path)
        status, headers, body = c.read_response()
        assert (status, body) == (404, b'{"message":"page not found"}\n')
        assert headers["content-type"] == "application/json"


def test_path_params_single_segment_and_greedy(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    c.request("GET", "/v1.44/images/localhost:5000/team/app:v1/json")
    assert c.read_response()[2] == b'{"version":[1,44],"params":{"name":"localhost:5000/team/app:v1"}}\n'
    c.request("GET", "/containers/a/b/json")
    assert c.read_response()[0] == 404


def test_chunked_request_body_is_streamed_to_the_handler(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    chunks = [b"a" * 10, b"b" * 70000, b"c"]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in chunks) + b"0\r\n\r\n"
    c.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + wire)
    assert c.read_response()[2] == b'{"total":70011}\n'
    c.request("POST", "/upload", b"xyz")
    assert c.read_response()[2] == b'{"total":3}\n'


def test_json_body_empty_is_object_and_bad_json_is_400(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    c.request("POST", "/json", b"")
    assert c.read_response()[2] == b'{"got":{}}\n'
    c.request("POST", "/json", b'{"Tty":true}')
    assert c.read_response()[2] == b'{"got":{"Tty":true}}\n'
    c.request("POST", "/json", b"{nope")
    status, _, body = c.read_response()
    assert status == 400
    assert body.startswith(b'{"message":"invalid JSON')


def test_stream_response_flushes_headers_before_the_body(served: tuple[RawClient, Gate]) -> None:
    c, gate = served
    c.request("POST", "/v1.44/wait")
    status, _, headers = c.read_head()  # arrives although the body is still blocked
    assert status == 200
    assert headers["transfer-encoding"] == "chunked"
    assert headers["content-type"] == "application/json"
    gate.open()
    assert c.read_chunk() == b'{"StatusCode":0}\n'
    assert c.read_chunk() is None


def test_hijack_upgrade_with_half_close(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    # stdin follows the request head at once: it must reach the handler, not get lost in buffers
    c.send(
        b"POST /v1.44/attach?stdin=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        b"Content-Type: text/plain\r\n\r\nhello "
    )
    status, reason, headers = c.read_head()
    assert (status, reason) == (101, "UPGRADED")
    assert headers["content-type"] == MUX
    assert headers["connection"] == "Upgrade"
    assert headers["upgrade"] == "tcp"
    c.send(b"world")
    c.sock.shutdown(socket.SHUT_WR)
    out = c.read_all()
    assert out == stdcopy_frame(1, b"got:hello world") + stdcopy_frame(2, b"after stdin EOF")


def test_hijack_without_upgrade_header_answers_200_raw(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    c.request("POST", "/attach", b"")
    c.sock.shutdown(socket.SHUT_WR)
    status, reason, headers = c.read_head()
    assert (status, reason) == (200, "OK")
    assert headers["content-type"] == MUX
    assert c.read_all() == stdcopy_frame(1, b"got:") + stdcopy_frame(2, b"after stdin EOF")


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("notfound", 404, "No such container: x"),
        ("conflict", 409, "name in use"),
        ("invalid", 400, "bad"),
        ("unauthorized", 401, "who"),
        ("forbidden", 403, "no"),
        ("unavailable", 503, "later"),
        ("notimpl", 501, "nope"),
        ("oserror", 500, "No such file or directory: /x"),
        ("bug", 500, "division by zero"),
    ],
)
def test_error_kinds_map_to_statuses(served: tuple[RawClient, Gate], kind: str, status: int, message: str) -> None:
    c, _ = served
    c.request("GET", f"/fail/{kind}")
    got_status, headers, body = c.read_response()
    assert got_status == status
    assert headers["content-type"] == "application/json"
    assert body == b'{"message":"%s"}\n' % message.encode()
    c.request("GET", "/echo")  # the connection survives handler errors
    assert c.read_response()[0] == 200


def test_not_modified_has_no_body(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    c.request("GET", "/fail/notmodified")
    status, headers, _ = c.read_response()
    assert status == 304
    assert "content-length" not in headers
    c.request("POST", "/nothing")
    assert c.read_response()[0] == 204
    c.request("GET", "/echo")
    assert c.read_response()[0] == 200


def test_malformed_request_gets_400_and_server_lives_on(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    c.send(b"THIS IS NOT HTTP\r\n\r\n")
    status, _, body = c.read_response()
    assert status == 400
    assert body.startswith(b'{"message":"bad request')
    c2 = RawClient(c.sock.getpeername())
    try:
        c2.request("GET", "/echo")
        assert c2.read_response()[0] == 200
    finally:
        c2.close()


def test_wait_first_stream_turns_an_early_error_into_http_status(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    c.request("POST", "/images/create?missing=1")
    status, _, body = c.read_response()
    assert (status, body) == (404, b'{"message":"manifest for x not found: manifest unknown"}\n')
    c.request("POST", "/images/create")
    status, _, body = c.read_response()
    assert (status, body) == (200, b'{"status":"Pulling"}\r\n')  # a late error never becomes an HTTP error


def test_error_after_hijack_is_reported_in_band(served: tuple[RawClient, Gate]) -> None:
    c, _ = served
    c.request("POST", "/exec/e1/start", b'{"Detach":false}', {"Connection": "Upgrade", "Upgrade": "tcp"})
    assert c.read_head()[0] == 101
    assert c.read_all() == stdcopy_frame(3, b"container stopped meanwhile\r\n")


def test_tcp_listener() -> None:
    from berth.api.app import build_router, start_server
    from tests.unit.api.harness import LoopThread

    async def hello(req: Request) -> Response:
        return JSONResponse({"hello": req.path})

    lt = LoopThread()
    try:
        server = lt.call(start_server(build_router([[Route("GET", "/hi", hello)]]), ["tcp://127.0.0.1:0"]))
        port = server.addresses()[0][1]  # type: ignore[attr-defined]
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /v1.40/hi HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while not reply.endswith(b"}\n"):
            reply += sock.recv(4096)
        sock.close()
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
        assert reply.endswith(b'{"hello":"/hi"}\n')
        lt.call(server.close())  # type: ignore[attr-defined]
    finally:
        lt.stop()
