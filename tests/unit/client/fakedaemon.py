"""A tiny fake Engine API server on a unix socket (a thread) answering canned responses for tests."""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Req:
    """One request as the fake daemon received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    rfile: Any = None
    sock: socket.socket | None = None

    def q(self, key: str) -> str | None:
        vals = self.query.get(key)
        return vals[0] if vals else None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Handler = Callable[[Req], Any]


def _vt(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _reason(status: int) -> str:
    return {101: "UPGRADED", 200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified",
            400: "Bad Request", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}.get(
                status, "X")


def head(sock: socket.socket, status: int, headers: dict[str, str]) -> None:
    lines = [f"HTTP/1.1 {status} {_reason(status)}", "Api-Version: 1.44", "Ostype: linux"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())


def send_json(req: Req, obj: Any, status: int = 200) -> None:
    data = json.dumps(obj).encode()
    assert req.sock is not None
    head(req.sock, status, {"Content-Type": "application/json", "Content-Length": str(len(data))})
    req.sock.sendall(data)


def send_chunks(req: Req, chunks: list[bytes], content_type: str = "application/json") -> None:
    assert req.sock is not None
    head(req.sock, 200, {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
    for c in chunks:
        req.sock.sendall(b"%x\r\n%s\r\n" % (len(c), c))
    req.sock.sendall(b"0\r\n\r\n")


def finish(req: Req) -> None:
    """End a hijacked stream: shut the socket down so the client sees EOF."""
    assert req.sock is not None
    try:
        req.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


@dataclass
class FakeDaemon:
    """Routes: (METHOD, regex on the path without /vX.Y) -> handler; a handler returning a value
    (obj, status) or obj gets it sent as JSON; None means the handler wrote the answer itself."""

    sock_path: Path
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    requests: list[Req] = field(default_factory=list)
    api_version: str = "1.44"
    versions: list[str] = field(default_factory=list)  # the API version of each request but pings

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.routes.append((method, re.compile(pattern + "$"), fn))
            return fn
        return deco

    def start(self) -> None:
        self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._srv.bind(str(self.sock_path))
        self._srv.listen(16)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        try:
            self._srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._srv.close()

    @property
    def host(self) -> str:
        return f"unix://{self.sock_path}"

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, sock: socket.socket) -> None:
        rfile = sock.makefile("rb")
        try:
            while True:
                line = rfile.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := rfile.readline().decode().rstrip("\r\n")):
                    k, _, v = h.partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = b""
                if "content-length" in headers:
                    body = rfile.read(int(headers["content-length"]))
                elif headers.get("transfer-encoding") == "chunked":
                    while (size := int(rfile.readline().strip(), 16)):
                        body += rfile.read(size)
                        rfile.readline()
                    rfile.readline()
                url = urlsplit(target)
                prefix = re.match(r"^/v(\d+\.\d+)", url.path)
                path = url.path[prefix.end():] if prefix else url.path
                query = parse_qs(url.query, keep_blank_values=True)
                req = Req(method, path, query, headers, body, rfile, sock)
                if path != "/_ping":
                    self.requests.append(req)
                    self.versions.append(prefix.group(1) if prefix else "")
                if prefix and _vt(prefix.group(1)) > _vt(self.api_version):  # what moby's version middleware says
                    send_json(req, {"message": f"client version {prefix.group(1)} is too new. Maximum supported "
                                               f"API version is {self.api_version}"}, 400)
                    continue
                if not self._dispatch(req):
                    return
        except (OSError, ValueError):
            return
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _dispatch(self, req: Req) -> bool:
        assert req.sock is not None
        if req.path == "/_ping":
            head(req.sock, 200, {"Api-Version": self.api_version, "Content-Length": "0"})
            return True
        for method, pattern, fn in reversed(self.routes):
            if method == req.method and (m := pattern.match(req.path)):
                out = fn(req, *m.groups())  # type: ignore[call-arg]
                if out is None:
                    return "upgrade" not in req.headers
                obj, status = out if isinstance(out, tuple) else (out, 200)
                if status == 204:
                    head(req.sock, 204, {})
                else:
                    send_json(req, obj, status)
                return True
        send_json(req, {"message": "page not found"}, 404)
        return True
