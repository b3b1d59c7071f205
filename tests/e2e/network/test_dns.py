"""Embedded DNS at 127.0.0.11 on user-defined networks: names, aliases, short ids; resolv.conf as docker."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator

import pytest

from tests.daemon_harness import ok
from tests.e2e.network.conftest import NetDaemon

pytestmark = pytest.mark.e2e


@pytest.fixture
def usernet(netd: NetDaemon) -> Iterator[tuple[str, str]]:
    name, prefix = f"n-{uuid.uuid4().hex[:6]}", f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
    ok(netd.d.docker("network", "create", "--subnet", f"{prefix}.0/24", name))
    server = f"c-{uuid.uuid4().hex[:6]}"
    try:
        ok(netd.d.docker("run", "-d", "--name", server, "--network", name, "--network-alias", "web",
                          "busybox", "sleep", "120"))
        yield name, server
    finally:
        netd.d.docker("rm", "-f", server)
        netd.d.docker("network", "rm", name)


def test_names_aliases_and_short_ids_resolve(netd: NetDaemon, usernet: tuple[str, str]) -> None:
    net, server = usernet
    info = json.loads(ok(netd.d.docker("inspect", server)))[0]
    ip = info["NetworkSettings"]["Networks"][net]["IPAddress"]
    for name in (server, "web", info["Id"][:12]):
        out = ok(netd.d.docker("run", "--rm", "--network", net, "busybox", "nslookup", name))
        assert ip in out, out
    ok(netd.d.docker("run", "--rm", "--network", net, "busybox", "ping", "-c1", "-W2", server))


def test_resolv_conf_on_user_network_and_default_bridge(netd: NetDaemon, usernet: tuple[str, str]) -> None:
    net, _ = usernet
    out = ok(netd.d.docker("run", "--rm", "--network", net, "busybox", "cat", "/etc/resolv.conf"))
    assert "nameserver 127.0.0.11" in out
    assert "ndots:0" in out
    out = ok(netd.d.docker("run", "--rm", "busybox", "cat", "/etc/resolv.conf"))
    assert "127.0.0.11" not in out
    out = ok(netd.d.docker("run", "--rm", "--dns", "192.0.2.53", "--dns-search", "example.test",
                            "--add-host", "db:192.0.2.7", "--hostname", "h1", "busybox", "sh", "-c",
                            "cat /etc/resolv.conf /etc/hosts; hostname"))
    assert "nameserver 192.0.2.53" in out
    assert "search example.test" in out
    assert "192.0.2.7\tdb" in out
    assert out.strip().endswith("h1")


def test_unknown_name_is_not_answered_locally(netd: NetDaemon, usernet: tuple[str, str]) -> None:
    net, _ = usernet
    # --dns 127.0.0.1: the resolver forwards to the host's loopback, so no query leaves the machine
    res = netd.d.docker("run", "--rm", "--network", net, "--dns", "127.0.0.1", "busybox", "nslookup",
                        "no-such-container")
    assert res.returncode != 0
