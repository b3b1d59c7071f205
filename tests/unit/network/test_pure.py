"""Networking's pure parts: subnet choice, allocation, MACs, port bindings, create bodies, the nft ruleset."""

from __future__ import annotations

import ipaddress

import pytest

from berth import errdefs
from berth.daemon.containers.etcfiles import build_resolv_conf
from berth.daemon.networks import ipam
from berth.daemon.networks.create import new_network
from berth.daemon.networks.dns import upstream_servers
from berth.daemon.networks.nftables import BridgeRules, PortRule, ruleset
from berth.daemon.networks.portmap import Binding, allocate_bindings, docker_ports

ROUTES = """Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
berth0\t000013AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
"""


def test_default_subnet_skips_routed_ones_but_not_our_own_bridge() -> None:
    routes = ipam.host_routes(ROUTES, skip_ifaces=["berth0"])
    assert routes == [ipaddress.IPv4Network("172.18.0.0/16")]
    assert str(ipam.default_subnet(routes)) == "172.19.0.0/16"


def test_allocate_and_refuse_used_addresses() -> None:
    net = ipaddress.IPv4Network("10.1.2.0/24")
    assert ipam.allocate(net, {"10.1.2.1"}) == "10.1.2.2"
    assert ipam.allocate(net, {"10.1.2.1"}, ipaddress.IPv4Network("10.1.2.128/25")) == "10.1.2.129"
    with pytest.raises(errdefs.Conflict, match="Address already in use"):
        ipam.allocate(net, {"10.1.2.5"}, wanted="10.1.2.5")
    with pytest.raises(errdefs.InvalidParameter):
        ipam.allocate(net, set(), wanted="10.9.9.9")
    assert ipam.mac_for("172.18.0.2") == "02:42:ac:12:00:02"


def test_port_bindings_conflicts_ranges_and_shapes() -> None:
    taken = [Binding("tcp", "0.0.0.0", 8080, 80)]
    with pytest.raises(errdefs.System, match=r"Bind for 0.0.0.0:8080 failed: port is already allocated"):
        allocate_bindings({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, [], False, taken)
    got = allocate_bindings({"80/tcp": [{"HostPort": "8080-8082"}]}, [], False, taken)
    assert got == [Binding("tcp", "0.0.0.0", 8081, 80)]
    assert allocate_bindings({"53/udp": [{"HostPort": "8080"}]}, [], False, taken)[0].host_port == 8080
    assert docker_ports(got, ["80/tcp", "81/tcp"]) == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8081"}], "81/tcp": None}


def test_new_network_checks() -> None:
    taken = [ipaddress.IPv4Network("10.5.0.0/16")]
    with pytest.raises(errdefs.Forbidden, match="Pool overlaps with other one on this address space"):
        new_network({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.5.3.0/24"}]}}, taken, [])
    with pytest.raises(errdefs.InvalidParameter, match="invalid CIDR address"):
        new_network({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.6.0.0/33"}]}}, taken, [])
    with pytest.raises(errdefs.InvalidParameter, match="longer than 15"):
        new_network({"Name": "x", "Options": {"com.docker.network.bridge.name": "a" * 16}}, taken, [])
    net = new_network({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.6.0.0/24", "IPRange": "10.6.0.128/25"}]},
                       "Internal": True}, taken, [])
    assert (net.subnet, net.gateway, net.ip_range, net.internal) == ("10.6.0.0/24", "10.6.0.1", "10.6.0.128/25",
                                                                     True)
    assert net.bridge == f"br-{net.id[:12]}"


def test_ruleset_is_one_idempotent_batch_of_our_table_only() -> None:
    text = ruleset("tbl", [BridgeRules("b0", "10.1.0.0/24"), BridgeRules("b1", "10.2.0.0/24", internal=True)],
                   [PortRule("tcp", "127.0.0.1", 8080, "10.1.0.2", 80, "c" * 64)])
    assert text.startswith("table ip tbl {}\ndelete table ip tbl\n")
    assert "ip daddr 127.0.0.1 tcp dport 8080 dnat to 10.1.0.2:80" in text
    assert 'ip saddr 10.1.0.0/24 oifname != "b0" masquerade' in text
    assert 'ip saddr 10.2.0.0/24 oifname != "b1" masquerade' not in text
    assert 'iifname "b0" oifname "b1" drop' in text
    assert all(" table " not in line or "tbl" in line for line in text.splitlines())


def test_resolv_conf_for_the_embedded_dns() -> None:
    host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\noptions edns0\n"
    assert upstream_servers(host) == ["10.0.0.2"]
    out = build_resolv_conf(host, False, embedded_dns=True)
    assert out == "search corp\nnameserver 127.0.0.11\noptions ndots:0 edns0\n"
