"""Fixtures: a registry server on a free loopback port (in a thread of the test process) and an httpx client."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from berth.registry.app import RegistryConfig
from berth.registry.serve import run


@dataclass
class Server:
    url: str
    host: str
    root: Path

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)


def _start(root: Path, make_config: Callable[[str], RegistryConfig]) -> tuple[Server, Callable[[], None]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    config = make_config(f"http://127.0.0.1:{port}")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, asyncio.Event] = {}
    failure: list[BaseException] = []

    async def main() -> None:
        holder["stop"] = asyncio.Event()
        ready.set()
        await run(config, sock, holder["stop"])

    def thread_main() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced by the fixture's teardown
            failure.append(exc)
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=thread_main, name="registry", daemon=True)
    thread.start()
    ready.wait(10)

    def stop() -> None:
        if "stop" in holder and not loop.is_closed():
            loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(30)
        sock.close()
        if failure:
            raise failure[0]

    return Server(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", root), stop


@pytest.fixture
def start_registry(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """`start_registry(**RegistryConfig fields)` -> a running server; all are stopped after the test.

    `auth` may be a callable taking the server's URL (a token realm needs it).
    """
    stops: list[Callable[[], None]] = []

    def factory(**kw: Any) -> Server:
        root = tmp_path / f"registry{len(stops)}"
        auth = kw.pop("auth", None)

        def make_config(url: str) -> RegistryConfig:
            return RegistryConfig(root=str(root), auth=auth(url) if callable(auth) else auth, **kw)

        server, stop = _start(root, make_config)
        stops.append(stop)
        return server

    try:
        yield factory
    finally:
        for stop in stops:
            stop()


@pytest.fixture
def registry(start_registry: Callable[..., Server]) -> Server:
    return start_registry()


@pytest.fixture
def client(registry: Server) -> Iterator[httpx.Client]:
    with registry.client() as c:
        yield c
