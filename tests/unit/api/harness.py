"""Test harness for the API: an in-process server on a temp unix socket (own loop thread), a stub
SystemBackend, and a raw-socket HTTP client that shows exactly what went over the wire."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from berth.api.app import build_router, start_server
from berth.api.backends import ContainerCounts, EngineFacts
from berth.api.http.router import Route
from berth.daemon.events import EventBus


@dataclass
class StubSystem:
    """A SystemBackend with fixed answers."""

    events: EventBus = field(default_factory=EventBus)
    data_root: str = "/var/lib/berth"
    pings: int = 0

    def client_arrived(self) -> None:
        self.pings += 1

    def engine_facts(self) -> EngineFacts:
        return EngineFacts(id="STUB:ID", name="stubhost", data_root=self.data_root, labels=("a=b",),
                           seccomp_profile="builtin")

    def container_counts(self) -> ContainerCounts:
        return ContainerCounts(running=1, paused=0, stopped=2)

    def image_count(self) -> int:
        return 4


class LoopThread:
    """An asyncio loop running in a daemon thread; `call(coro)` runs a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: object, timeout: float = 30) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def running_api(route_lists: Iterable[Iterable[Route]]) -> Iterator[tuple[str, LoopThread]]:
    """Serve the routes on a fresh unix socket; yields (socket path, loop thread)."""
    tmp = tempfile.mkdtemp(prefix="bapi", dir="/tmp")
    path = os.path.join(tmp, "api.sock")
    lt = LoopThread()
    router = build_router(route_lists)
    server = lt.call(start_server(router, [f"unix://{path}"]))
    try:
        yield path, lt
    finally:
        lt.call(server.close())  # type: ignore[attr-defined]
        lt.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class RawClient:
    """A blocking unix-socket client that sends bytes and parses just enough HTTP to check replies."""

    def __init__(self, path: str, timeout: float = 10) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        lines = [f"{method} {target} HTTP/1.1", "Host: api.moby.localhost"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            if not self._fill():
                raise EOFError(f"EOF before {marker!r}; got {self.buf!r}")
        head, _, self.buf = self.buf.partition(marker)
        return head

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"EOF after {len(self.buf)} of {n} bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_all(self) -> bytes:
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def read_head(self) -> tuple[int, str, dict[str, str]]:
        head = self.read_until(b"\r\n\r\n").decode("latin-1")
        status_line, *lines = head.split("\r\n")
        _, code, reason = ([*status_line.split(" ", 2), ""])[:3]
        headers = {}
        for line in lines:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return int(code), reason, headers

    def read_chunk(self) -> bytes | None:
        size = int(self.read_until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            self.read_until(b"\r\n")
            return None
        data = self.read_exact(size)
        self.read_exact(2)
        return data

    def read_response(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        status, _, headers = self.read_head()
        if head_only or status in (204, 304):
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            parts = []
            while (chunk := self.read_chunk()) is not None:
                parts.append(chunk)
            return status, headers, b"".join(parts)
        return status, headers, self.read_exact(int(headers.get("content-length", "0")))
