"""The berth CLI (network, port, run --network/--ip/-p) and the docker SDK (networks.*, run(ports=...))."""

from __future__ import annotations

import json
import random
import time
import urllib.request
import uuid

import docker
import pytest

from tests.daemon_harness import ok
from tests.e2e.network.conftest import NetDaemon, free_port

pytestmark = pytest.mark.e2e


def test_berth_cli_network_and_port(netd: NetDaemon) -> None:
    net, prefix = f"n-{uuid.uuid4().hex[:6]}", f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
    port = free_port()
    ok(netd.d.berth("network", "create", "--subnet", f"{prefix}.0/24", "--label", "a=b", net))
    try:
        assert net in ok(netd.d.berth("network", "ls"))
        info = json.loads(ok(netd.d.berth("network", "inspect", net)))[0]
        assert info["Labels"] == {"a": "b"}
        cid = ok(netd.d.berth("run", "-d", "--network", net, "--ip", f"{prefix}.77", "-p", f"{port}:80",
                               "busybox", "sleep", "60")).strip()
        try:
            assert ok(netd.d.berth("port", cid)).strip() == f"80/tcp -> 0.0.0.0:{port}"
            out = ok(netd.d.berth("inspect", "-f", "{{.NetworkSettings.Networks}}", cid))
            assert f"{prefix}.77" in out
            ok(netd.d.berth("network", "disconnect", net, cid))
            ok(netd.d.berth("network", "connect", net, cid))
        finally:
            netd.d.berth("rm", "-f", cid)
        assert ok(netd.d.berth("network", "rm", net)).strip() == net
    finally:
        netd.d.berth("network", "rm", "-f", net)


def test_docker_sdk_networks_and_ports(netd: NetDaemon) -> None:
    client = docker.DockerClient(base_url=netd.d.host, version="auto")
    prefix = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=f"{prefix}.0/24")])
    net = client.networks.create(f"n-{uuid.uuid4().hex[:6]}", driver="bridge", ipam=ipam)
    port = free_port()
    try:
        assert net.name in [n.name for n in client.networks.list()]
        c = client.containers.run("busybox", ["sh", "-c", "mkdir /w; echo sdk > /w/i; httpd -f -p 80 -h /w"],
                                  detach=True, ports={"80/tcp": port}, network=net.name)
        try:
            body = b""
            for _ in range(50):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/i", timeout=2) as r:
                        body = r.read()
                        break
                except OSError:
                    time.sleep(0.1)
            assert body == b"sdk\n"
            c.reload()
            assert c.ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}]}
            net.reload()
            assert c.id in net.attrs["Containers"]
        finally:
            c.remove(force=True)
    finally:
        net.remove()
        client.close()
