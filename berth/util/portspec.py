"""Port specifications as docker reads them: `-p [ip:][hostPort:]containerPort[/proto]` and PortBindings keys."""

from __future__ import annotations

TYPE_CHECKING = False  # dataclasses, ipaddress and typing are not imported at run time: the CLI parses -p
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["PortMapping", "PortSpecError", "check_port_bindings", "parse_port_range", "parse_port_spec"]

PROTOCOLS = ("tcp", "udp", "sctp")


class PortSpecError(ValueError):
    """A port specification docker would refuse (the message is docker's)."""


class PortMapping:
    """One container port and how it is published: HostPort is "" (any), "N" or "N-M" (any in the range)."""

    __slots__ = ("host_ip", "host_port", "port", "proto")

    def __init__(self, host_ip: str, host_port: str, port: int, proto: str) -> None:
        self.host_ip, self.host_port, self.port, self.proto = host_ip, host_port, port, proto

    def _fields(self) -> tuple[str, str, int, str]:
        return self.host_ip, self.host_port, self.port, self.proto

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortMapping) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "PortMapping(host_ip={!r}, host_port={!r}, port={!r}, proto={!r})".format(*self._fields())

    @property
    def key(self) -> str:
        return f"{self.port}/{self.proto}"


def _check_ip(ip: str) -> None:
    import ipaddress

    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise PortSpecError(f"invalid IP address: {ip}") from None


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(text)
    return int(text)


def parse_port_range(text: str) -> tuple[int, int]:
    """"N" or "N-M" (0..65535, M >= N); ValueError otherwise."""
    lo, dash, hi = text.partition("-")
    first = _port(lo)
    last = _port(hi) if dash else first
    if last < first:
        raise ValueError(text)
    return first, last


def split_proto(text: str) -> tuple[str, str]:
    """"80/udp" -> ("80", "udp"); no protocol means tcp (docker's nat.SplitProtoPort)."""
    parts = text.split("/")
    if len(parts) == 1 or not parts[1]:
        return parts[0], "tcp"
    return parts[0], parts[1]


def parse_port_spec(raw: str) -> list[PortMapping]:
    """One `-p` value, expanded per container port (docker's nat.ParsePortSpec, with its error texts)."""
    parts = raw.split(":")
    container = parts[-1]
    host = parts[-2] if len(parts) >= 2 else ""
    ip = ":".join(parts[:-2])
    container, proto = split_proto(container)
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip:
        _check_ip(ip)
    if not container:
        raise PortSpecError(f"no port specified: {raw}<empty>")
    try:
        start, end = parse_port_range(container)
    except ValueError:
        raise PortSpecError(f"invalid containerPort: {container}") from None
    host_start = host_end = 0
    if host:
        try:
            host_start, host_end = parse_port_range(host)
        except ValueError:
            raise PortSpecError(f"invalid hostPort: {host}") from None
        if end - start != host_end - host_start and end != start:
            raise PortSpecError(f"invalid ranges specified for container and host Ports: {container} and {host}")
    if proto.lower() not in PROTOCOLS:
        raise PortSpecError(f"invalid proto: {proto}")
    out = []
    for i in range(end - start + 1):
        if not host:
            host_port = ""
        elif start == end and host_start != host_end:
            host_port = f"{host_start}-{host_end}"
        else:
            host_port = str(host_start + i)
        out.append(PortMapping(ip, host_port, start + i, proto.lower()))
    return out


def check_port_bindings(bindings: Mapping[str, Any]) -> None:
    """HostConfig.PortBindings as dockerd checks them at create ("invalid port specification: ...")."""
    for key, entries in bindings.items():
        port, proto = split_proto(str(key))
        try:
            _port(port)
        except ValueError:
            raise PortSpecError(f'invalid port specification: "{port}"') from None
        if proto.lower() not in PROTOCOLS:
            raise PortSpecError(f'invalid port specification: "{key}"')
        for entry in entries or []:
            if not isinstance(entry, dict):
                raise PortSpecError(f"invalid port binding for {key}: {entry!r}")
            host_port, host_ip = str(entry.get("HostPort") or ""), str(entry.get("HostIp") or "")
            if host_port:
                try:
                    parse_port_range(split_proto(host_port)[0])
                except ValueError:
                    raise PortSpecError(f'invalid port specification: "{host_port}"') from None
            if host_ip:
                _check_ip(host_ip)
