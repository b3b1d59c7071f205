"""The Engine API client against a fake daemon: JSON calls, errors, chunked streams, hijack, stdcopy."""

from __future__ import annotations

import io
import threading

import pytest

from berth.client import APIError, Client, DaemonUnreachable
from berth.client.http import encode_query, parse_host
from berth.client.stdcopy import StreamError, demux, frame, iter_frames
from tests.unit.client.fakedaemon import FakeDaemon, Req, finish, head, send_chunks


def test_negotiates_version_and_uses_prefix(fake: FakeDaemon) -> None:
    fake.api_version = "1.41"
    fake.route("GET", "/version")(lambda req: {"ApiVersion": "1.41"})
    c = Client(fake.host)
    assert c.get("/version") == {"ApiVersion": "1.41"}
    assert c.api_version == "1.41"


def test_first_request_goes_out_with_our_version_and_again_with_an_older_daemons(fake: FakeDaemon) -> None:
    """No ping before the first request: berthd takes 1.44 at once; an older daemon's "too new" answer names
    its maximum, and the request is sent again with it (once: later requests use it from the start)."""
    fake.route("POST", "/containers/([^/]+)/exec")(lambda req, name: ({"Id": f"exec-of-{name}"}, 201))
    fake.api_version = "1.41"
    older = Client(fake.host)
    assert older.post("/containers/c1/exec", {"Cmd": ["true"]}) == {"Id": "exec-of-c1"}
    assert older.post("/containers/c2/exec", {"Cmd": ["true"]}) == {"Id": "exec-of-c2"}
    assert fake.versions == ["1.44", "1.41", "1.41"]
    assert [r.json() for r in fake.requests] == [{"Cmd": ["true"]}] * 3
    fake.versions.clear()
    fake.api_version = "1.44"
    assert Client(fake.host).post("/containers/c3/exec", {"Cmd": ["true"]}) == {"Id": "exec-of-c3"}
    assert fake.versions == ["1.44"]


def test_a_guessed_version_does_not_hide_the_daemons_other_errors(fake: FakeDaemon) -> None:
    fake.route("POST", "/containers/([^/]+)/exec")(lambda req, name: ({"message": f"No such container: {name}"},
                                                                      404))
    fake.api_version = "1.41"
    c = Client(fake.host)
    with pytest.raises(APIError, match="No such container: nope"):
        c.post("/containers/nope/exec", {"Cmd": ["true"]})
    assert c.api_version == "1.41"


def test_caps_version_at_1_44(fake: FakeDaemon) -> None:
    fake.api_version = "1.51"
    assert Client(fake.host).api_version == "1.44"


def test_error_text_is_dockers(fake: FakeDaemon) -> None:
    fake.route("GET", "/containers/([^/]+)/json")(
        lambda req, name: ({"message": f"No such container: {name}"}, 404))
    with pytest.raises(APIError) as info:
        Client(fake.host).get("/containers/x/json")
    assert info.value.status == 404
    assert str(info.value) == "Error response from daemon: No such container: x"


def test_keepalive_reuses_connection_and_sends_query(fake: FakeDaemon) -> None:
    fake.route("GET", "/containers/json")(lambda req: [{"q": req.query}])
    c = Client(fake.host)
    out = c.get("/containers/json", all=True, filters='{"status":["exited"]}')
    assert out == [{"q": {"all": ["1"], "filters": ['{"status":["exited"]}']}}]
    c.get("/containers/json")
    assert len(fake.requests) == 2


def test_json_body_and_204(fake: FakeDaemon) -> None:
    fake.route("POST", "/containers/create")(lambda req: ({"Id": "a" * 64, "Got": req.json()}, 201))
    fake.route("POST", "/containers/(.+)/start")(lambda req, cid: (None, 204))
    c = Client(fake.host)
    out = c.post("/containers/create", {"Image": "busybox"}, name="web")
    assert out["Got"] == {"Image": "busybox"}
    assert fake.requests[0].headers["content-type"] == "application/json"
    assert fake.requests[0].q("name") == "web"
    assert c.post("/containers/abc/start") is None


def test_chunked_json_message_stream(fake: FakeDaemon) -> None:
    def events(req: Req) -> None:
        send_chunks(req, [b'{"status":"a"}\r\n{"sta', b'tus":"b"}\r\n', b'{"status":"c"}'])
    fake.route("GET", "/events")(events)
    got = list(Client(fake.host).json_stream("GET", "/events"))
    assert [m["status"] for m in got] == ["a", "b", "c"]


def test_chunked_request_body(fake: FakeDaemon) -> None:
    fake.route("POST", "/images/load")(lambda req: {"len": len(req.body), "te": req.headers.get(
        "transfer-encoding")})
    out = Client(fake.host).call("POST", "/images/load", body=io.BytesIO(b"x" * 100000))
    assert out == {"len": 100000, "te": "chunked"}


def test_hijack_101_then_multiplexed_stream_and_half_close(fake: FakeDaemon) -> None:
    def attach(req: Req, cid: str) -> None:
        assert req.sock is not None
        assert req.rfile is not None
        head(req.sock, 101, {"Content-Type": "application/vnd.docker.multiplexed-stream",
                             "Connection": "Upgrade", "Upgrade": "tcp"})
        req.sock.sendall(frame(1, b"out\n") + frame(2, b"err\n"))
        data = req.rfile.read()  # until the client's half-close
        req.sock.sendall(frame(1, data.upper()))
        finish(req)
    fake.route("POST", "/containers/(.+)/attach")(attach)
    resp = Client(fake.host).hijack("/containers/c1/attach", {"stream": 1, "stdin": 1})
    assert resp.status == 101
    assert fake.requests[0].headers["upgrade"] == "tcp"
    resp.conn.send(b"typed")
    resp.conn.close_write()
    out, err = io.BytesIO(), io.BytesIO()
    demux(iter(resp.conn.recv, b""), out, err)
    assert out.getvalue() == b"out\nTYPED"
    assert err.getvalue() == b"err\n"


def test_hijack_refused_is_an_error(fake: FakeDaemon) -> None:
    fake.route("POST", "/containers/(.+)/attach")(lambda req, cid: ({"message": "is not running"}, 409))
    with pytest.raises(APIError, match="is not running"):
        Client(fake.host).hijack("/containers/c1/attach")


def test_wait_headers_arrive_before_the_body(fake: FakeDaemon) -> None:
    release = threading.Event()

    def wait(req: Req, cid: str) -> None:
        assert req.sock is not None
        head(req.sock, 200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        release.wait(10)
        body = b'{"StatusCode":3,"Error":null}'
        req.sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    fake.route("POST", "/containers/(.+)/wait")(wait)
    resp = Client(fake.host).stream("POST", "/containers/c/wait", {"condition": "next-exit"})
    assert resp.status == 200
    release.set()
    assert resp.json() == {"StatusCode": 3, "Error": None}


def test_unreachable_daemon(tmp_path: object) -> None:
    with pytest.raises(DaemonUnreachable, match="Cannot connect to the Berth daemon"):
        Client("unix:///nonexistent/berth.sock").get("/version")


def test_stdcopy_split_anywhere() -> None:
    data = frame(1, b"hello") + frame(2, b"") + frame(2, b"oops")
    chunks = [data[i:i + 3] for i in range(0, len(data), 3)]
    assert list(iter_frames(chunks)) == [(1, b"hello"), (2, b""), (2, b"oops")]


def test_stdcopy_systemerr_and_truncation() -> None:
    with pytest.raises(StreamError, match="boom"):
        demux([frame(3, b"boom")], io.BytesIO(), io.BytesIO())
    with pytest.raises(StreamError):
        list(iter_frames([frame(1, b"abc")[:-1]]))


def test_host_and_query_helpers() -> None:
    assert parse_host("unix:///run/berth/berth.sock") == ("unix", "/run/berth/berth.sock")
    assert parse_host("tcp://127.0.0.1:2375") == ("tcp", ("127.0.0.1", 2375))
    assert encode_query({"a": True, "b": None, "t": ["x", "y z"]}) == "a=1&t=x&t=y%20z"
