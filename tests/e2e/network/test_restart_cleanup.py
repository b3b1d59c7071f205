"""Clean-up and restart: veths, nft rules, DNS listeners and ports go with containers; kill -9 keeps networking."""

from __future__ import annotations

import json
import os
import random
import time
import urllib.request
import uuid

import pytest

from tests.daemon_harness import ok
from tests.e2e.network.conftest import free_port, net_daemon, nft_rules, settled_veths

pytestmark = pytest.mark.e2e


def _get(url: str) -> int:
    for _ in range(50):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return int(r.status)
        except OSError:
            time.sleep(0.1)
    return 0


def _netns_files(exec_root: str) -> list[str]:
    path = os.path.join(exec_root, "netns")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def test_kill9_restart_keeps_networking_and_drops_dead_state(busybox_tar: bytes) -> None:
    with net_daemon(busybox_tar) as nd:
        d = nd.d
        port = free_port()
        prefix = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
        net = f"n-{uuid.uuid4().hex[:6]}"
        ok(d.docker("network", "create", "--subnet", f"{prefix}.0/24", net))
        web = ok(d.docker("run", "-d", "-p", f"{port}:80", "--network", net, "--name", "web", "busybox",
                           "sh", "-c", "mkdir /www; echo ok > /www/i; httpd -f -p 80 -h /www")).strip()
        doomed = ok(d.docker("run", "-d", "--network", net, "busybox", "sleep", "300")).strip()
        assert _get(f"http://127.0.0.1:{port}/i") == 200
        d.kill9()
        # the second container dies while no daemon watches
        with open(os.path.join(d.data_root, "containers", doomed, "config.v2.json")) as f:
            record = json.load(f)
        os.kill(int(record["State"]["Pid"]), 9)
        time.sleep(0.5)
        d.start()
        assert _get(f"http://127.0.0.1:{port}/i") == 200
        out = ok(d.docker("run", "--rm", "--network", net, "busybox", "nslookup", "web"))
        assert f"{prefix}." in out
        assert _netns_files(d.exec_root) == [web]
        assert len(settled_veths(nets_bridge(d, net), 1)) == 1
        ok(d.docker("rm", "-f", web, doomed))
        assert _netns_files(d.exec_root) == []
        assert settled_veths(nets_bridge(d, net), 0) == []
        assert f"dport {port}" not in nft_rules(nd.table)
        ok(d.docker("network", "rm", net))


def nets_bridge(d: object, net: str) -> str:
    info = json.loads(ok(d.docker("network", "inspect", net)))[0]  # type: ignore[attr-defined]
    return "br-" + str(info["Id"])[:12]


def test_stop_and_rm_release_everything(busybox_tar: bytes) -> None:
    with net_daemon(busybox_tar) as nd:
        d = nd.d
        port = free_port()
        cids = [ok(d.docker("run", "-d", "-p", f"{port + i}:80", "busybox", "sleep", "300")).strip()
                for i in range(2)]
        assert len(settled_veths(nd.bridge, 2)) == 2
        assert nft_rules(nd.table).count("dnat to") == 2
        ok(d.docker("stop", "-t", "0", cids[0]))
        assert len(settled_veths(nd.bridge, 1)) == 1
        assert nft_rules(nd.table).count("dnat to") == 1
        ok(d.docker("rm", "-f", cids[1]))
        assert settled_veths(nd.bridge, 0) == []
        assert "dnat to" not in nft_rules(nd.table)
        assert _netns_files(d.exec_root) == []
        ok(d.docker("start", cids[0]))  # its port is free again and comes back
        assert f"dport {port}" in nft_rules(nd.table)
        ok(d.docker("rm", "-f", cids[0]))
