"""docker's -p syntax and PortBindings checks (berth.util.portspec)."""

from __future__ import annotations

import pytest

from berth.util.portspec import PortMapping, PortSpecError, check_port_bindings, parse_port_spec


@pytest.mark.parametrize(("raw", "expected"), [
    ("80", [PortMapping("", "", 80, "tcp")]),
    ("8080:80", [PortMapping("", "8080", 80, "tcp")]),
    ("127.0.0.1:8080:80/udp", [PortMapping("127.0.0.1", "8080", 80, "udp")]),
    ("127.0.0.1::80", [PortMapping("127.0.0.1", "", 80, "tcp")]),
    ("[::1]:8080:80", [PortMapping("::1", "8080", 80, "tcp")]),
    ("8000-8001:80-81", [PortMapping("", "8000", 80, "tcp"), PortMapping("", "8001", 81, "tcp")]),
    ("8000-8010:80", [PortMapping("", "8000-8010", 80, "tcp")]),
    ("80/SCTP", [PortMapping("", "", 80, "sctp")]),
])
def test_specs_as_docker_reads_them(raw: str, expected: list[PortMapping]) -> None:
    assert parse_port_spec(raw) == expected


@pytest.mark.parametrize(("raw", "message"), [
    ("", "no port specified: <empty>"),
    ("a:80", "invalid hostPort: a"),
    ("80-79", "invalid containerPort: 80-79"),
    ("300.1.1.1:80:80", "invalid IP address: 300.1.1.1"),
    ("80/icmp", "invalid proto: icmp"),
])
def test_bad_specs_get_dockers_text(raw: str, message: str) -> None:
    with pytest.raises(PortSpecError, match=message):
        parse_port_spec(raw)


def test_port_bindings_checks() -> None:
    check_port_bindings({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8000-8010"}], "53/udp": None})
    with pytest.raises(PortSpecError, match='invalid port specification: "abc"'):
        check_port_bindings({"abc/tcp": []})
    with pytest.raises(PortSpecError, match="invalid port binding"):
        check_port_bindings({"80/tcp": ["8080"]})
