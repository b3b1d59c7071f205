"""Fixtures of the API tests: the system routes on an in-process server with a stub backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from berth.api.routes import refused, system
from tests.unit.api.harness import LoopThread, RawClient, StubSystem, running_api


@pytest.fixture
def stub_system() -> StubSystem:
    return StubSystem()


@pytest.fixture
def system_api(stub_system: StubSystem) -> Iterator[tuple[str, LoopThread]]:
    with running_api([system.routes(stub_system), refused.routes()]) as served:
        yield served


@pytest.fixture
def client(system_api: tuple[str, LoopThread]) -> Iterator[RawClient]:
    c = RawClient(system_api[0])
    try:
        yield c
    finally:
        c.close()
