"""Fixtures of the client tests: a fake daemon on a temporary unix socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.client.fakedaemon import FakeDaemon


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDaemon]:
    daemon = FakeDaemon(tmp_path / "berth.sock")
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
