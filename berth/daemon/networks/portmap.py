"""Published ports: HostConfig.PortBindings (+ -P's exposed ports) to concrete, conflict-free bindings."""

from __future__ import annotations

import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from berth import errdefs

__all__ = ["Binding", "allocate_bindings", "docker_ports", "free_port"]

EPHEMERAL = (32768, 60999)


@dataclass(frozen=True, slots=True)
class Binding:
    """One host (ip, port, proto) forwarded to a container port."""

    proto: str
    host_ip: str
    host_port: int
    port: int

    def clashes(self, other: Binding) -> bool:
        if self.proto != other.proto or self.host_port != other.host_port:
            return False
        return self.host_ip == other.host_ip or "0.0.0.0" in (self.host_ip, other.host_ip)

    def to_json(self) -> list[Any]:
        return [self.proto, self.host_ip, self.host_port, self.port]

    @classmethod
    def from_json(cls, data: list[Any]) -> Binding:
        return cls(str(data[0]), str(data[1]), int(data[2]), int(data[3]))


def _split(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    try:
        return int(port), (proto or "tcp").lower()
    except ValueError:
        raise errdefs.InvalidParameter(f"invalid port specification: {key!r}") from None


def free_port(proto: str, host_ip: str, taken: Collection[Binding]) -> int:
    """A port of the ephemeral range that no reservation holds and no host socket is bound to."""
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    for port in range(EPHEMERAL[0], EPHEMERAL[1] + 1):
        probe = Binding(proto, host_ip, port, 0)
        if any(probe.clashes(t) for t in taken):
            continue
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((host_ip if host_ip != "0.0.0.0" else "", port))
            except OSError:
                continue
        return port
    raise errdefs.Unavailable("no free host port in the ephemeral range")


def allocate_bindings(port_bindings: Mapping[str, Any], exposed: Collection[str], publish_all: bool,
                      taken: Collection[Binding]) -> list[Binding]:
    """Concrete bindings; a host port already reserved fails with Docker's error."""
    wanted: dict[str, list[dict[str, str]]] = {k: list(v or [{}]) for k, v in (port_bindings or {}).items()}
    if publish_all:
        for key in exposed:
            wanted.setdefault(key, [{}])
    out: list[Binding] = []
    for key, entries in wanted.items():
        port, proto = _split(key)
        for entry in entries:
            host_ip = str(entry.get("HostIp") or "0.0.0.0")
            raw = str(entry.get("HostPort") or "")
            lo, _, hi = raw.partition("-")
            if not lo:
                host_port = free_port(proto, host_ip, [*taken, *out])
            else:
                try:
                    first, last = int(lo), int(hi or lo)
                except ValueError:
                    raise errdefs.InvalidParameter(f"invalid port specification: {raw!r}") from None
                host_port = -1
                for cand in range(first, last + 1):
                    probe = Binding(proto, host_ip, cand, port)
                    if not any(probe.clashes(t) for t in [*taken, *out]):
                        host_port = cand
                        break
                if host_port < 0:
                    raise errdefs.System(f"driver failed programming external connectivity on endpoint: "
                                         f"Bind for {host_ip}:{first} failed: port is already allocated")
            out.append(Binding(proto, host_ip, host_port, port))
    return out


def docker_ports(bindings: Collection[Binding], exposed: Collection[str]) -> dict[str, Any]:
    """NetworkSettings.Ports: every exposed port, with its host bindings or null."""
    out: dict[str, Any] = {key if "/" in key else f"{key}/tcp": None for key in exposed}
    for b in bindings:
        entry = {"HostIp": b.host_ip, "HostPort": str(b.host_port)}
        key = f"{b.port}/{b.proto}"
        if out.get(key) is None:
            out[key] = []
        out[key].append(entry)
    return out
