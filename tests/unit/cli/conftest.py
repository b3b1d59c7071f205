"""Fixtures of the CLI tests: a fake daemon with canned container/image answers, and a CLI runner."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from berth.cli.main import main
from tests.unit.client.fakedaemon import FakeDaemon, Req, finish, frame, head

CID = "4f2a9c3b1d7e" + "0" * 52
NOW = time.time()

CONTAINERS = [
    {"Id": CID, "Names": ["/web"], "Image": "nginx:latest", "ImageID": "sha256:" + "ab" * 32,
     "Command": "/docker-entrypoint.sh nginx -g 'daemon off;'", "Created": int(NOW) - 125,
     "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
               {"PrivatePort": 443, "Type": "tcp"}],
     "Labels": {"app": "web"}, "State": "running", "Status": "Up 2 minutes",
     "HostConfig": {"NetworkMode": "bridge"}, "NetworkSettings": {"Networks": {"bridge": {}}}, "Mounts": []},
    {"Id": "9" * 64, "Names": ["/job"], "Image": "sha256:" + "cd" * 32, "ImageID": "sha256:" + "cd" * 32,
     "Command": "true", "Created": int(NOW) - 7200, "Ports": [], "Labels": {}, "State": "exited",
     "Status": "Exited (0) 2 hours ago", "HostConfig": {}, "NetworkSettings": {"Networks": {}}, "Mounts": []},
]
IMAGES = [
    {"Id": "sha256:" + "ab" * 32, "RepoTags": ["nginx:latest", "localhost:5000/nginx:1.25"],
     "RepoDigests": [], "Created": int(NOW) - 86400 * 3, "Size": 187654321, "SharedSize": -1,
     "Containers": -1, "Labels": {}},
    {"Id": "sha256:" + "ef" * 32, "RepoTags": [], "RepoDigests": [], "Created": int(NOW) - 90,
     "Size": 4261, "SharedSize": -1, "Containers": -1, "Labels": None},
]
INSPECT = {"Id": CID, "Name": "/web", "State": {"Status": "running", "Running": True, "Paused": False,
                                                  "ExitCode": 0, "Pid": 4242},
           "Config": {"Tty": False, "OpenStdin": False, "Labels": {"app": "web", "tier": "front"},
                      "Env": ["A=1"], "Cmd": ["nginx"]},
           "HostConfig": {"AutoRemove": False},
           "Mounts": [{"Type": "bind", "Source": "/srv", "Destination": "/data"},
                      {"Type": "volume", "Source": "/var/lib/v", "Destination": "/v"}]}


@dataclass
class Engine:
    """The fake daemon plus the state the run/attach scenario shares between its handlers."""

    daemon: FakeDaemon
    exit_code: int = 0
    output: tuple[tuple[int, bytes], ...] = ((1, b"hello\n"), (2, b"oops\n"))
    tty: bool = False
    image_present: bool = True
    start_error: str | None = None
    echo_stdin: bool = False

    def __post_init__(self) -> None:
        self.started = threading.Event()
        self.exited = threading.Event()
        self.killed = threading.Event()
        self.hold_until_killed = False
        self.released_by_kill = False  # the held attach ended because a kill came (not by its timeout)
        self.created: list[Any] = []

    def last(self, method_path: str) -> Req:
        return [r for r in self.daemon.requests if f"{r.method} {r.path}" == method_path][-1]


def _as_of_now(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with Created shifted so that their ages are the same however long the session has run."""
    shift = int(time.time()) - int(NOW)
    return [{**r, "Created": r["Created"] + shift} for r in rows]


def _install(e: Engine) -> None:
    d = e.daemon
    names = {"web": CID, CID: CID, CID[:12]: CID}

    @d.route("GET", "/containers/json")
    def ps(req: Req) -> Any:
        return _as_of_now(CONTAINERS)

    @d.route("GET", "/images/json")
    def images(req: Req) -> Any:
        return _as_of_now(IMAGES)

    @d.route("GET", "/containers/([^/]+)/json")
    def inspect(req: Req, name: str) -> Any:
        if name not in names:
            return {"message": f"No such container: {name}"}, 404
        return {**INSPECT, "Config": {**INSPECT["Config"], "Tty": e.tty, "OpenStdin": e.echo_stdin}}

    @d.route("GET", "/images/([^/]+)/json")
    def image_inspect(req: Req, name: str) -> Any:
        if name != "nginx":
            return {"message": f"No such image: {name}"}, 404
        return {"Id": IMAGES[0]["Id"], "RepoTags": ["nginx:latest"]}

    @d.route("POST", "/containers/create")
    def create(req: Req) -> Any:
        if not e.image_present:
            return {"message": f"No such image: {req.json()['Image']}:latest"}, 404
        e.created.append(req.json())
        return {"Id": CID, "Warnings": []}, 201

    @d.route("POST", "/images/create")
    def pull(req: Req) -> None:
        e.image_present = True
        from tests.unit.client.fakedaemon import send_chunks
        send_chunks(req, [b'{"status":"Pulling from library/busybox","id":"latest"}\r\n',
                          b'{"status":"Status: Downloaded newer image for busybox:latest"}\r\n'])

    @d.route("POST", "/containers/([^/]+)/attach")
    def attach(req: Req, cid: str) -> None:
        assert req.sock is not None
        kind = "raw-stream" if e.tty else "multiplexed-stream"
        head(req.sock, 101, {"Content-Type": f"application/vnd.docker.{kind}", "Connection": "Upgrade",
                             "Upgrade": "tcp"})
        e.started.wait(10)
        if e.hold_until_killed:
            e.released_by_kill = e.killed.wait(10)
        if e.echo_stdin and req.q("stdin") == "1":
            data = req.rfile.read() if req.rfile else b""
            req.sock.sendall(data if e.tty else frame(1, data))
        for stream, payload in e.output:
            req.sock.sendall(payload if e.tty else frame(stream, payload))
        e.exited.set()
        finish(req)

    @d.route("POST", "/containers/([^/]+)/wait")
    def wait(req: Req, cid: str) -> None:
        assert req.sock is not None
        head(req.sock, 200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        if req.q("condition") is not None:
            e.exited.wait(10)
        body = b'{"StatusCode":%d,"Error":null}' % e.exit_code
        req.sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

    @d.route("POST", "/containers/([^/]+)/start")
    def start(req: Req, cid: str) -> Any:
        if e.start_error:
            return {"message": e.start_error}, 400
        e.started.set()
        return None, 204

    @d.route("POST", "/containers/([^/]+)/(stop|kill|restart|resize|rename)")
    def simple(req: Req, cid: str, op: str) -> Any:
        if cid not in names:
            return {"message": f"No such container: {cid}"}, 404
        if op == "kill":
            e.killed.set()
        return None, 204

    @d.route("POST", "/containers/([^/]+)/exec")
    def exec_create(req: Req, cid: str) -> Any:
        return {"Id": "e" * 64}, 201

    @d.route("POST", "/exec/([^/]+)/start")
    def exec_start(req: Req, eid: str) -> None:
        assert req.sock is not None
        tty = bool((req.json() or {}).get("Tty"))
        kind = "raw-stream" if tty else "multiplexed-stream"
        head(req.sock, 101, {"Content-Type": f"application/vnd.docker.{kind}", "Connection": "Upgrade",
                             "Upgrade": "tcp"})
        req.sock.sendall(b"exec out\n" if tty else frame(1, b"exec out\n"))
        finish(req)

    @d.route("POST", "/exec/([^/]+)/resize")
    def exec_resize(req: Req, eid: str) -> Any:
        return None, 204

    @d.route("GET", "/exec/([^/]+)/json")
    def exec_inspect(req: Req, eid: str) -> Any:
        return {"ID": eid, "Running": False, "ExitCode": e.exit_code}

    @d.route("DELETE", "/containers/([^/]+)")
    def remove(req: Req, cid: str) -> Any:
        if cid not in names:
            return {"message": f"No such container: {cid}"}, 404
        return None, 204


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    daemon = FakeDaemon(tmp_path / "berth.sock")
    daemon.start()
    monkeypatch.setenv("BERTH_HOST", daemon.host)
    e = Engine(daemon)
    _install(e)
    try:
        yield e
    finally:
        daemon.stop()


@pytest.fixture
def berth(capsysbinary: pytest.CaptureFixture[bytes]) -> Callable[..., tuple[int, str, str]]:
    """Run the CLI in-process: berth("ps", "-a") -> (exit status, stdout, stderr)."""
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsysbinary.readouterr()
        return code, out.decode(), err.decode()
    return run


@pytest.fixture
def stdin_pipe() -> Iterator[Callable[[bytes], None]]:
    """Replace fd 0 with a pipe holding the given bytes (then EOF)."""
    saved = os.dup(0)

    def feed(data: bytes) -> None:
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        os.dup2(r, 0)
        os.close(r)
    try:
        yield feed
    finally:
        os.dup2(saved, 0)
        os.close(saved)
