"""Where the time of `docker exec C true` goes: the docker CLI's own share, then berthd's, request by request.

Usage: .venv/bin/python -m bench.exec_breakdown [--runs N]
The CLI's share is measured against a stand-in server on a unix socket that answers the five requests of an
exec (ping, container inspect, exec create, the 101 of exec start, exec inspect) at once, with the answers
berthd gave; berthd's share with a raw client that makes the same requests. Prints figures only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.engine import report, timed
from tests.daemon_harness import DOCKER, running_daemon
from tests.rootfs import busybox_tar_bytes

Reply = Callable[[str, str], bytes | None]  # (method, path) -> the whole response, None for the hijacked start
HEADERS = b"Api-Version: 1.44\r\nOstype: linux\r\nServer: Engine/stand-in\r\n"


def _response(status: bytes, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\n" + HEADERS + b"Content-Type: " + content_type +
            b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def _read_request(conn: socket.socket, buf: bytes) -> tuple[str, str, bytes] | None:
    """(method, path, what follows the request); None when the client closed the connection."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    length = next((int(v) for k, _, v in (x.partition(":") for x in lines[1:]) if k.lower() == "content-length"), 0)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return method, path, rest[length:]


def _serve_client(conn: socket.socket, reply: Reply) -> None:
    with conn:
        buf = b""
        while (req := _read_request(conn, buf)) is not None:
            method, path, buf = req
            out = reply(method, path)
            if out is None:  # exec start: upgrade, no output, end of stream
                conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
                             b"Connection: Upgrade\r\nUpgrade: tcp\r\n" + HEADERS + b"\r\n")
                conn.shutdown(socket.SHUT_WR)
                return
            conn.sendall(out)


@contextlib.contextmanager
def stand_in_server(path: str, container_inspect: bytes, exec_inspect: bytes) -> Iterator[None]:
    """An engine that answers an exec's requests at once, on `path`, while the block runs."""
    def reply(method: str, url: str) -> bytes | None:
        if url.endswith("/_ping"):
            return _response(b"200 OK", b"" if method == "HEAD" else b"OK", b"text/plain")
        if "/exec/" in url and url.endswith("/start"):
            return None
        if "/exec/" in url and url.endswith("/json"):
            return _response(b"200 OK", exec_inspect)
        if url.endswith("/exec"):
            return _response(b"201 Created", json.dumps({"Id": "e" * 64}).encode())
        if "/containers/" in url and url.endswith("/json"):
            return _response(b"200 OK", container_inspect)
        return _response(b"404 Not Found", b'{"message":"not in the stand-in"}')

    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(16)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=_serve_client, args=(conn, reply), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        srv.shutdown(socket.SHUT_RDWR)
        srv.close()
        thread.join()


class RawClient:
    """HTTP/1.1 on a unix socket, just enough for the exec's requests."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = self.connect()

    def connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.path)
        return s

    def request(self, method: str, url: str, body: object | None = None) -> bytes:
        data = b"" if body is None else json.dumps(body).encode()
        self.sock.sendall(f"{method} {url} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        return _read_response(self.sock, head_only=method == "HEAD")

    def start_exec(self, eid: str) -> None:
        """POST exec start with the upgrade, read the stream to its end."""
        body = b'{"Detach":false,"Tty":false}'
        with self.connect() as s:
            s.sendall(f"POST /v1.44/exec/{eid}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            while s.recv(65536):
                pass

    def close(self) -> None:
        self.sock.close()


def _read_response(s: socket.socket, head_only: bool = False) -> bytes:
    """The body of the response (none for a HEAD request, whatever its Content-Length says)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    if head_only:
        return b""
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += s.recv(65536)
    return body


def api_phases(sock: str, cid: str, runs: int) -> dict[str, list[float]]:
    """The exec's requests to berthd, one by one, as the CLI makes them (ms each)."""
    phases: dict[str, list[float]] = {k: [] for k in ("ping", "container inspect", "exec create",
                                                      "exec start, to the end of the stream", "exec inspect")}
    for _ in range(runs):
        client = RawClient(sock)
        try:
            marks = [time.perf_counter()]
            client.request("HEAD", "/_ping")
            marks.append(time.perf_counter())
            client.request("GET", f"/v1.44/containers/{cid}/json")
            marks.append(time.perf_counter())
            eid = json.loads(client.request("POST", f"/v1.44/containers/{cid}/exec",
                                            {"AttachStdout": True, "AttachStderr": True, "Cmd": ["true"]}))["Id"]
            marks.append(time.perf_counter())
            client.start_exec(eid)
            marks.append(time.perf_counter())
            if json.loads(client.request("GET", f"/v1.44/exec/{eid}/json"))["ExitCode"] != 0:
                raise SystemExit("exec true failed")
            marks.append(time.perf_counter())
        finally:
            client.close()
        for name, t0, t1 in zip(phases, marks, marks[1:], strict=False):
            phases[name].append((t1 - t0) * 1000)
    return phases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_daemon(exec_on_tmpfs=True, debug=False) as d:
        d.import_busybox(busybox_tar_bytes(tmp))
        env = d.env()
        cid = subprocess.run([DOCKER, "run", "-d", "busybox", "sleep", "1000"], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
        try:
            client = RawClient(d.sock)
            container_inspect = client.request("GET", f"/v1.44/containers/{cid}/json")
            client.close()
            exec_inspect = json.dumps({"ID": "e" * 64, "Running": False, "ExitCode": 0, "Pid": 1,
                                       "ContainerID": cid}).encode()
            stand_in = os.path.join(tmp, "stand-in.sock")
            stand_in_env = {**env, "DOCKER_HOST": f"unix://{stand_in}"}
            print("`docker exec C true`, where its time goes (median ms):")
            with stand_in_server(stand_in, container_inspect, exec_inspect):
                timed([DOCKER, "exec", cid, "true"], stand_in_env, 3)
                floor = timed([DOCKER, "exec", cid, "true"], stand_in_env, args.runs)
            timed([DOCKER, "exec", cid, "true"], env, 3)
            whole = timed([DOCKER, "exec", cid, "true"], env, args.runs)
            version = timed([DOCKER, "--version"], env, args.runs)
            phases = api_phases(d.sock, cid, args.runs)
        finally:
            subprocess.run([DOCKER, "rm", "-f", cid], env=env, capture_output=True)
    print(f"  {statistics.median(version):6.1f}  the docker CLI starting and exiting (docker --version)")
    print(f"  {statistics.median(floor):6.1f}  the docker CLI's exec against a stand-in answering at once")
    for name, samples in phases.items():
        print(f"  {statistics.median(samples):6.1f}    berthd: {name}")
    ours = sum(statistics.median(s) for s in phases.values())
    print(f"  {ours:6.1f}  berthd, the five requests together")
    report("docker exec C true (berthd)", whole)


if __name__ == "__main__":
    main()
