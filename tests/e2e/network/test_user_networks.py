"""User-defined bridge networks through the docker CLI: create/ls/inspect/rm/prune, connect, isolation."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator

import pytest

from tests.daemon_harness import ok
from tests.e2e.network.conftest import NetDaemon, nft_rules

pytestmark = pytest.mark.e2e


def _subnet() -> str:
    return f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"


@pytest.fixture
def names(netd: NetDaemon) -> Iterator[list[str]]:
    """Networks and containers a test makes; removed afterwards even when it fails."""
    made: list[str] = []
    yield made
    for ref in reversed(made):
        if ref.startswith("c-"):
            netd.d.docker("rm", "-f", ref)
    for ref in reversed(made):
        if ref.startswith("n-"):
            netd.d.docker("network", "rm", ref)


def _name(kind: str, made: list[str]) -> str:
    name = f"{kind}-{uuid.uuid4().hex[:6]}"
    made.append(name)
    return name


def test_create_inspect_ls_rm(netd: NetDaemon, names: list[str]) -> None:
    net, prefix = _name("n", names), _subnet()
    ok(netd.d.docker("network", "create", "--subnet", f"{prefix}.0/24", "--gateway", f"{prefix}.254",
                      "--label", "k=v", net))
    info = json.loads(ok(netd.d.docker("network", "inspect", net)))[0]
    assert info["IPAM"]["Config"] == [{"Subnet": f"{prefix}.0/24", "Gateway": f"{prefix}.254"}]
    assert info["Labels"] == {"k": "v"}
    assert info["Driver"] == "bridge"
    listed = ok(netd.d.docker("network", "ls", "--format", "{{.Name}}")).split()
    assert {"bridge", "host", "none", net} <= set(listed)
    res = netd.d.docker("network", "create", "--subnet", f"{prefix}.128/25", _name("n", names))
    assert "Pool overlaps with other one on this address space" in res.stderr.decode()
    res = netd.d.docker("network", "create", net)
    assert f"network with name {net} already exists" in res.stderr.decode()
    res = netd.d.docker("network", "create", "-o", "com.docker.network.bridge.name=averyverylongname0", "x")
    assert res.returncode != 0
    assert "bridge" in res.stderr.decode()
    res = netd.d.docker("network", "rm", "bridge")
    assert "pre-defined network and cannot be removed" in res.stderr.decode()
    res = netd.d.docker("network", "inspect", "nosuchnet")
    assert "network nosuchnet not found" in res.stderr.decode()
    ok(netd.d.docker("network", "rm", net))


def test_containers_talk_on_a_network_and_rm_refuses_in_use(netd: NetDaemon, names: list[str]) -> None:
    net, prefix = _name("n", names), _subnet()
    ok(netd.d.docker("network", "create", "--subnet", f"{prefix}.0/24", net))
    a = _name("c", names)
    ok(netd.d.docker("run", "-d", "--name", a, "--network", net, "--ip", f"{prefix}.50", "busybox",
                      "sleep", "60"))
    ok(netd.d.docker("run", "--rm", "--network", net, "busybox", "ping", "-c1", "-W2", f"{prefix}.50"))
    info = json.loads(ok(netd.d.docker("network", "inspect", net)))[0]
    assert [c["IPv4Address"] for c in info["Containers"].values()] == [f"{prefix}.50/24"]
    res = netd.d.docker("network", "rm", net)
    assert "has active endpoints" in res.stderr.decode()
    ep = json.loads(ok(netd.d.docker("inspect", a)))[0]["NetworkSettings"]["Networks"][net]
    assert ep["IPAddress"] == f"{prefix}.50"
    assert ep["IPAMConfig"] == {"IPv4Address": f"{prefix}.50"}


def test_isolation_between_networks_and_internal(netd: NetDaemon, names: list[str]) -> None:
    n1, n2, p1, p2 = _name("n", names), _name("n", names), _subnet(), _subnet()
    ok(netd.d.docker("network", "create", "--subnet", f"{p1}.0/24", n1))
    ok(netd.d.docker("network", "create", "--subnet", f"{p2}.0/24", "--internal", n2))
    a = _name("c", names)
    ok(netd.d.docker("run", "-d", "--name", a, "--network", n1, "busybox", "sleep", "60"))
    ip_a = json.loads(ok(netd.d.docker("inspect", a)))[0]["NetworkSettings"]["Networks"][n1]["IPAddress"]
    # from the other network: no route out of an internal network, and no forwarding between bridges
    res = netd.d.docker("run", "--rm", "--network", n2, "busybox", "ping", "-c1", "-W1", ip_a)
    assert res.returncode != 0
    out = ok(netd.d.docker("run", "--rm", "--network", n2, "busybox", "ip", "route"))
    assert "default" not in out
    # the default bridge cannot reach n1 either (forwarding between Berth bridges is dropped)
    res = netd.d.docker("run", "--rm", "busybox", "ping", "-c1", "-W1", ip_a)
    assert res.returncode != 0
    assert "drop" in nft_rules(netd.table)


def test_connect_and_disconnect_a_running_container(netd: NetDaemon, names: list[str]) -> None:
    n1, p1 = _name("n", names), _subnet()
    ok(netd.d.docker("network", "create", "--subnet", f"{p1}.0/24", n1))
    a = _name("c", names)
    ok(netd.d.docker("run", "-d", "--name", a, "busybox", "sleep", "60"))
    ok(netd.d.docker("network", "connect", "--ip", f"{p1}.9", n1, a))
    assert f"inet {p1}.9/24" in ok(netd.d.docker("exec", a, "ip", "-o", "-4", "addr"))
    nets = json.loads(ok(netd.d.docker("inspect", a)))[0]["NetworkSettings"]["Networks"]
    assert set(nets) == {"bridge", n1}
    ok(netd.d.docker("network", "disconnect", n1, a))
    assert f"{p1}.9" not in ok(netd.d.docker("exec", a, "ip", "-o", "-4", "addr"))
    res = netd.d.docker("network", "disconnect", n1, a)
    assert "is not connected to network" in res.stderr.decode()


def test_network_container_mode_shares_the_namespace(netd: NetDaemon, names: list[str]) -> None:
    a = _name("c", names)
    ok(netd.d.docker("run", "-d", "--name", a, "busybox", "sleep", "60"))
    ip_a = json.loads(ok(netd.d.docker("inspect", a)))[0]["NetworkSettings"]["IPAddress"]
    out = ok(netd.d.docker("run", "--rm", "--network", f"container:{a}", "busybox", "ip", "-o", "-4", "addr"))
    assert f"inet {ip_a}/" in out


def test_prune_removes_unused_networks(netd: NetDaemon, names: list[str]) -> None:
    net = _name("n", names)
    ok(netd.d.docker("network", "create", "--subnet", f"{_subnet()}.0/24", net))
    assert net in ok(netd.d.docker("network", "prune", "-f"))
    assert net not in ok(netd.d.docker("network", "ls"))
