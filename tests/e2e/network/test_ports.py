"""Published ports: DNAT from host addresses (and 127.0.0.1) to containers, conflicts, docker port/ps/inspect."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from tests.daemon_harness import ok
from tests.e2e.network.conftest import NetDaemon, free_port, nft_rules

pytestmark = pytest.mark.e2e


def _host_ip() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the source address
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _get(url: str, tries: int = 50) -> tuple[int, bytes]:
    last: Exception | None = None
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status, r.read()
        except OSError as exc:
            last = exc
            time.sleep(0.1)
    raise AssertionError(f"{url}: {last}")


def _httpd(netd: NetDaemon, *publish: str) -> str:
    return ok(netd.d.docker("run", "-d", *publish, "busybox", "sh", "-c",
                             "mkdir -p /www && echo hello-berth > /www/index.html && httpd -f -p 80 -h /www")).strip()


def test_published_tcp_port_from_localhost_and_host_address(netd: NetDaemon) -> None:
    port = free_port()
    cid = _httpd(netd, "-p", f"{port}:80")
    try:
        assert _get(f"http://127.0.0.1:{port}/") == (200, b"hello-berth\n")
        assert _get(f"http://{_host_ip()}:{port}/")[0] == 200
        # hairpin: another container on the bridge through the host's published port
        out = ok(netd.d.docker("run", "--rm", "busybox", "wget", "-qO-", f"http://{netd.gateway}:{port}/"))
        assert out == "hello-berth\n"
        info = json.loads(ok(netd.d.docker("inspect", cid)))[0]
        assert info["NetworkSettings"]["Ports"]["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": str(port)}]
        assert info["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"] == str(port)
        assert "80/tcp" in info["Config"]["ExposedPorts"]
        assert ok(netd.d.docker("port", cid)).strip() == f"80/tcp -> 0.0.0.0:{port}"
        assert f"0.0.0.0:{port}->80/tcp" in ok(netd.d.docker("ps", "--format", "{{.Ports}}"))
        assert f"dport {port}" in nft_rules(netd.table)
    finally:
        netd.d.docker("rm", "-f", cid)
    assert f"dport {port}" not in nft_rules(netd.table)


def test_port_conflict_is_refused_with_dockers_error(netd: NetDaemon) -> None:
    port = free_port()
    cid = _httpd(netd, "-p", f"{port}:80")
    try:
        res = netd.d.docker("run", "-d", "-p", f"{port}:80", "busybox", "sleep", "30")
        assert res.returncode != 0
        assert f"Bind for 0.0.0.0:{port} failed: port is already allocated" in res.stderr.decode()
    finally:
        netd.d.docker("rm", "-f", cid)
    cid = _httpd(netd, "-p", f"127.0.0.1:{port}:80")  # free again once the first one is gone
    netd.d.docker("rm", "-f", cid)


def test_ephemeral_and_publish_all(netd: NetDaemon) -> None:
    cid = ok(netd.d.docker("run", "-d", "-p", "80", "--expose", "81/udp", "-P", "busybox",
                            "sleep", "30")).strip()
    try:
        ports = json.loads(ok(netd.d.docker("inspect", cid)))[0]["NetworkSettings"]["Ports"]
        assert int(ports["80/tcp"][0]["HostPort"]) >= 32768
        assert int(ports["81/udp"][0]["HostPort"]) >= 32768
    finally:
        netd.d.docker("rm", "-f", cid)


UDP_ECHO = ("import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('0.0.0.0', 9999))\n"
            "while True:\n"
            "    data, peer = s.recvfrom(512)\n"
            "    s.sendto(b'echo:' + data, peer)\n")


def host_python(*args: str) -> list[str]:
    """Run the host's python3 inside a busybox container (the host's /usr mounted read-only at /host/usr)."""
    return ["-v", "/usr:/host/usr:ro", "-e", "PYTHONHOME=/host/usr", "busybox",
            "/host/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "--library-path", "/host/usr/lib/x86_64-linux-gnu",
            "/host/usr/bin/python3", *args]


def test_published_udp_port(netd: NetDaemon) -> None:
    port = free_port()
    cid = ok(netd.d.docker("run", "-d", "-p", f"{port}:9999/udp", *host_python("-c", UDP_ECHO))).strip()
    try:
        reply = b""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            for _ in range(40):
                s.sendto(b"ping", ("127.0.0.1", port))
                try:
                    reply = s.recv(512)
                    break
                except TimeoutError:
                    continue
        assert reply == b"echo:ping", netd.d.docker("logs", cid).stderr.decode()
    finally:
        netd.d.docker("rm", "-f", cid)
