"""Network fixtures: a berthd with its own bridge name, nft table and subnet; every kernel object removed after."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.daemon_harness import Daemon, running_daemon


@dataclass
class NetDaemon:
    """A test berthd and the names of the kernel objects it owns."""

    d: Daemon
    bridge: str
    table: str
    subnet_prefix: str  # "10.N.M" of its /24

    @property
    def gateway(self) -> str:
        return f"{self.subnet_prefix}.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unique_net() -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:6]
    return f"bt{tag}", f"berth_t{tag}", f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"


def veths_on(bridge: str) -> list[str]:
    path = f"/sys/class/net/{bridge}/brif"
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def settled_veths(bridge: str, expected: int, timeout: float = 10.0) -> list[str]:
    """The bridge's ports once their count is `expected` (veths of gone namespaces vanish asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        found = veths_on(bridge)
        if len(found) == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def nft_rules(table: str) -> str:
    res = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True)
    return res.stdout if res.returncode == 0 else ""


def remove_net_objects(bridge: str, table: str) -> None:
    for link in veths_on(bridge):
        subprocess.run(["ip", "link", "del", link], capture_output=True)
    subprocess.run(["ip", "link", "del", bridge], capture_output=True)
    subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True)


@contextlib.contextmanager
def net_daemon(busybox_tar: bytes, extra: list[str] | None = None) -> Iterator[NetDaemon]:
    bridge, table, prefix = unique_net()
    args = ["--bridge", bridge, "--bip", f"{prefix}.1/24", "--nft-table", table, *(extra or [])]
    try:
        with running_daemon(args) as d:
            d.import_busybox(busybox_tar)
            yield NetDaemon(d, bridge, table, prefix)
    finally:
        remove_net_objects(bridge, table)


@pytest.fixture(scope="module")
def netd(busybox_tar: bytes) -> Iterator[NetDaemon]:
    with net_daemon(busybox_tar) as nd:
        yield nd
