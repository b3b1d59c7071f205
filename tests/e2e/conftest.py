"""End-to-end fixtures: one berthd per test module, with busybox:latest imported from Debian's busybox."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from tests.daemon_harness import Daemon, running_daemon
from tests.rootfs import busybox_tar_bytes


@pytest.fixture(scope="session")
def busybox_tar() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return busybox_tar_bytes(tmp)


@pytest.fixture(scope="module")
def berthd(busybox_tar: bytes) -> Iterator[Daemon]:
    with running_daemon() as d:
        d.import_busybox(busybox_tar)
        yield d
