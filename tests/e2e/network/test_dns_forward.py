"""Embedded DNS forwards what it does not know to the upstream resolvers; resolv.conf and bad network input."""

from __future__ import annotations

import random
import socket
import struct
import threading
import uuid
from collections.abc import Iterator

import docker
import pytest

from tests.daemon_harness import ok
from tests.e2e.network.conftest import NetDaemon

pytestmark = pytest.mark.e2e

FORWARDED_NAME = "upstream-only.berth.test"
FORWARDED_IP = "192.0.2.77"


def _answer(query: bytes) -> bytes:
    """An A answer for FORWARDED_NAME, NXDOMAIN for anything else (one question, no compression in it)."""
    qid, _flags, qdcount = struct.unpack("!HHH", query[:6])
    pos, labels = 12, []
    while query[pos]:
        labels.append(query[pos + 1:pos + 1 + query[pos]].decode())
        pos += 1 + query[pos]
    question = query[12:pos + 5]
    qtype = struct.unpack("!H", query[pos + 1:pos + 3])[0]
    if ".".join(labels).lower() == FORWARDED_NAME and qtype == 1:
        record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(FORWARDED_IP)
        return struct.pack("!HHHHHH", qid, 0x8180, qdcount, 1, 0, 0) + question + record
    return struct.pack("!HHHHHH", qid, 0x8183, qdcount, 0, 0, 0) + question


@pytest.fixture
def upstream() -> Iterator[tuple[str, list[str]]]:
    """A DNS server on a loopback address of the host (UDP 53); yields its address and the names it was asked."""
    addr = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, 53))
    sock.settimeout(0.2)
    asked: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                query, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            asked.append(query.hex())
            sock.sendto(_answer(query), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield addr, asked
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_unknown_names_are_forwarded_to_the_upstream(netd: NetDaemon, upstream: tuple[str, list[str]]) -> None:
    addr, asked = upstream
    net = f"n-{uuid.uuid4().hex[:6]}"
    ok(netd.d.docker("network", "create", net))
    try:
        out = ok(netd.d.docker("run", "--rm", "--network", net, "--dns", addr, "busybox",
                                "nslookup", "-type=a", FORWARDED_NAME))
        assert FORWARDED_IP in out
        assert asked  # the answer came from our upstream through the embedded server
        res = netd.d.docker("run", "--rm", "--network", net, "--dns", addr, "busybox", "nslookup", "nope.berth.test")
        assert res.returncode != 0
    finally:
        netd.d.docker("network", "rm", net)


def test_dns_options_and_domainname_shape_resolv_conf_and_hosts(netd: NetDaemon) -> None:
    out = ok(netd.d.docker("run", "--rm", "--dns", "192.0.2.53", "--dns-option", "ndots:3",
                            "--dns-option", "timeout:2", "--hostname", "web", "--domainname", "example.test",
                            "busybox", "sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts; hostname"))
    resolv, hosts = out.split("---", 1)
    assert "nameserver 192.0.2.53" in resolv
    assert "options ndots:3 timeout:2" in resolv
    assert "web.example.test" in hosts
    assert out.strip().endswith("web")


@pytest.mark.parametrize(("args", "message"), [
    (["--subnet", "10.1.2.3/99"], "invalid CIDR address: 10.1.2.3/99"),
    (["--subnet", "10.77.0.0/16", "--gateway", "10.78.0.1"], "no matching subnet for gateway 10.78.0.1"),
    (["-o", "com.docker.network.bridge.name=" + "x" * 16], "interface name is longer than 15 characters"),
])
def test_bad_network_create_is_refused_and_leaves_nothing(netd: NetDaemon, args: list[str], message: str) -> None:
    name = f"bad-{uuid.uuid4().hex[:6]}"
    res = netd.d.docker("network", "create", *args, name)
    assert res.returncode == 1
    assert message in res.stderr.decode()
    assert name not in ok(netd.d.docker("network", "ls", "--format", "{{.Name}}")).split()


def test_overlapping_subnet_is_refused(netd: NetDaemon) -> None:
    prefix = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
    first, second = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    ok(netd.d.docker("network", "create", "--subnet", f"{prefix}.0/24", first))
    try:
        res = netd.d.docker("network", "create", "--subnet", f"{prefix}.128/25", second)
        assert res.returncode == 1
        assert "Pool overlaps with other one on this address space" in res.stderr.decode()
    finally:
        netd.d.docker("network", "rm", first)


@pytest.mark.parametrize(("spec", "message"), [
    ("70000:80", "invalid hostPort: 70000"),
    ("8080:99999", "invalid containerPort: 99999"),
    ("1:2:3:4", "invalid IP address: 1:2"),
    ("8080:80/sctpx", "invalid proto: sctpx"),
    ("8000-8001:80-82", "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"),
])
def test_malformed_port_specs_are_refused_by_the_cli(netd: NetDaemon, spec: str, message: str) -> None:
    res = netd.d.berth("run", "--rm", "-p", spec, "busybox", "true")
    assert res.returncode == 125
    assert message in res.stderr.decode()


@pytest.mark.parametrize(("bindings", "message"), [
    ({"99999/tcp": [{"HostPort": "80"}]}, 'invalid port specification: "99999"'),
    ({"80/tcp": [{"HostPort": "70000"}]}, 'invalid port specification: "70000"'),
    ({"80/sctpx": [{"HostPort": "8080"}]}, 'invalid port specification: "80/sctpx"'),
    ({"80/tcp": [{"HostIp": "1.2.3.400", "HostPort": "8080"}]}, "invalid IP address: 1.2.3.400"),
])
def test_malformed_port_bindings_are_refused_by_the_api(netd: NetDaemon, bindings: dict[str, object],
                                                        message: str) -> None:
    client = docker.APIClient(base_url=netd.d.host, version="1.44")
    try:
        with pytest.raises(docker.errors.APIError) as err:
            client.create_container("busybox", ["true"], host_config={"PortBindings": bindings})
        assert err.value.status_code == 400
        assert message in str(err.value.explanation)
        assert client.containers(all=True, filters={"ancestor": "busybox", "status": "created"}) == []
    finally:
        client.close()
