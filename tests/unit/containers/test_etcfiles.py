"""The container's hostname, hosts and resolv.conf files."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth import errdefs
from berth.daemon.containers.etcfiles import build_hosts, build_resolv_conf, parse_extra_host, write_all

DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
HOST_RESOLV = """# managed by resolved
nameserver 127.0.0.53
nameserver 10.0.0.2
nameserver ::1
nameserver 2001:db8::1
search corp.example
options edns0 trust-ad
"""


def test_hosts_defaults_only() -> None:
    assert build_hosts("abc", "", None, []) == DEFAULT_HOSTS


def test_hosts_with_extra_hosts_then_own_record() -> None:
    text = build_hosts("abc", "", "172.17.0.2", ["db:10.1.1.1", "v6:fd00::1", "eq=192.168.0.9"])
    assert text == DEFAULT_HOSTS + "10.1.1.1\tdb\nfd00::1\tv6\n192.168.0.9\teq\n172.17.0.2\tabc\n"


def test_hosts_with_domainname() -> None:
    assert build_hosts("web", "example.org", "10.0.0.5", []).endswith("10.0.0.5\tweb.example.org web\n")


def test_extra_host_errors() -> None:
    with pytest.raises(errdefs.InvalidParameter, match="invalid IP address in add-host"):
        parse_extra_host("db:not-an-ip")
    with pytest.raises(errdefs.InvalidParameter, match="bad format"):
        parse_extra_host("justaname")
    with pytest.raises(errdefs.InvalidParameter, match="host-gateway"):
        parse_extra_host("gw:host-gateway")
    assert parse_extra_host("gw:host-gateway", "172.17.0.1") == ("172.17.0.1", "gw")
    assert parse_extra_host("v6:[fd00::2]") == ("fd00::2", "v6")


def test_resolv_conf_filters_loopback_and_ipv6() -> None:
    text = build_resolv_conf(HOST_RESOLV, host_network=False)
    assert "127.0.0.53" not in text
    assert "::1" not in text
    assert "2001:db8::1" not in text
    assert "nameserver 10.0.0.2" in text
    assert "search corp.example" in text
    assert "options edns0 trust-ad" in text
    assert "8.8.8.8" not in text


def test_resolv_conf_keeps_ipv6_when_enabled() -> None:
    assert "nameserver 2001:db8::1" in build_resolv_conf(HOST_RESOLV, host_network=False, ipv6=True)


def test_resolv_conf_falls_back_to_google() -> None:
    text = build_resolv_conf("nameserver 127.0.0.53\nsearch lan\n", host_network=False)
    assert text == "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert build_resolv_conf("", host_network=False) == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def test_resolv_conf_host_mode_is_a_copy() -> None:
    assert build_resolv_conf(HOST_RESOLV, host_network=True) == HOST_RESOLV


def test_resolv_conf_overrides() -> None:
    text = build_resolv_conf(HOST_RESOLV, False, dns=["1.1.1.1"], dns_options=["ndots:2"])
    assert text == "search corp.example\nnameserver 1.1.1.1\noptions ndots:2\n"
    text = build_resolv_conf(HOST_RESOLV, False, dns_search=["a.example", "b.example"])
    assert text == "search a.example b.example\nnameserver 10.0.0.2\noptions edns0 trust-ad\n"
    assert build_resolv_conf(HOST_RESOLV, False, dns_search=["."]).startswith("nameserver 10.0.0.2\n")


def test_write_all(tmp_path: Path) -> None:
    host_resolv = tmp_path / "host-resolv.conf"
    host_resolv.write_text("nameserver 127.0.0.1\n")
    root = tmp_path / "c"
    root.mkdir()
    write_all(str(root), {"Hostname": "abc123"}, {"NetworkMode": "bridge", "ExtraHosts": ["db:10.0.0.9"]},
              host_resolv_conf=str(host_resolv))
    assert (root / "hostname").read_text() == "abc123\n"
    assert (root / "hosts").read_text() == DEFAULT_HOSTS + "10.0.0.9\tdb\n"
    assert (root / "resolv.conf").read_text() == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def test_write_all_host_network(tmp_path: Path) -> None:
    host_resolv = tmp_path / "r"
    host_resolv.write_text("nameserver 127.0.0.53\n")
    host_hosts = tmp_path / "h"
    host_hosts.write_text("127.0.0.1 localhost\n127.0.1.1 myhost\n")
    root = tmp_path / "c"
    root.mkdir()
    write_all(str(root), {"Hostname": "myhost"}, {"NetworkMode": "host"}, ip="10.9.9.9",
              host_resolv_conf=str(host_resolv), host_hosts=str(host_hosts))
    assert (root / "resolv.conf").read_text() == "nameserver 127.0.0.53\n"
    assert (root / "hosts").read_text() == "127.0.0.1 localhost\n127.0.1.1 myhost\n"


def test_write_all_with_ip(tmp_path: Path) -> None:
    write_all(str(tmp_path), {"Hostname": "h"}, {}, ip="172.17.0.3", host_resolv_conf=str(tmp_path / "none"))
    assert (tmp_path / "hosts").read_text().endswith("172.17.0.3\th\n")
