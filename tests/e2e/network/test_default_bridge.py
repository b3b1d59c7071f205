"""The default bridge: addresses, a veth per container, a route out, and clean-up on stop and rm."""

from __future__ import annotations

import json

import pytest

from tests.daemon_harness import ok
from tests.e2e.network.conftest import NetDaemon, nft_rules, settled_veths

pytestmark = pytest.mark.e2e


def test_container_gets_address_route_and_reaches_gateway(netd: NetDaemon) -> None:
    out = ok(netd.d.docker("run", "--rm", "busybox", "sh", "-c",
                            f"ip -o -4 addr show eth0; ip route; ping -c1 -W2 {netd.gateway}"))
    assert f"inet {netd.subnet_prefix}." in out
    assert f"default via {netd.gateway}" in out
    assert "1 packets received" in out


def test_inspect_shows_network_settings_and_stop_releases(netd: NetDaemon) -> None:
    cid = ok(netd.d.docker("run", "-d", "busybox", "sleep", "60")).strip()
    try:
        info = json.loads(ok(netd.d.docker("inspect", cid)))[0]
        ns = info["NetworkSettings"]
        ip = ns["IPAddress"]
        assert ip.startswith(netd.subnet_prefix + ".")
        assert ns["Gateway"] == netd.gateway
        assert ns["IPPrefixLen"] == 24
        assert ns["MacAddress"] == "02:42:" + ":".join(f"{int(x):02x}" for x in ip.split("."))
        assert ns["Networks"]["bridge"]["IPAddress"] == ip
        assert len(settled_veths(netd.bridge, 1)) == 1
        # a second container reaches the first by IP
        ok(netd.d.docker("run", "--rm", "busybox", "ping", "-c1", "-W2", ip))
        ok(netd.d.docker("stop", "-t", "0", cid))
        assert settled_veths(netd.bridge, 0) == []
        info = json.loads(ok(netd.d.docker("inspect", cid)))[0]
        assert info["NetworkSettings"]["IPAddress"] == ""
    finally:
        netd.d.docker("rm", "-f", cid)
    assert settled_veths(netd.bridge, 0) == []
    assert "masquerade" in nft_rules(netd.table)


def test_addresses_are_reused_after_release(netd: NetDaemon) -> None:
    first = ok(netd.d.docker("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"))
    second = ok(netd.d.docker("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"))
    assert first.split()[3] == second.split()[3]


def test_network_none_and_host_have_no_veth(netd: NetDaemon) -> None:
    out = ok(netd.d.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"))
    assert "eth0" not in out
    assert settled_veths(netd.bridge, 0) == []
