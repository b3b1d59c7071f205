"""Network and endpoint records, their persistence (one JSON file written atomically) and Docker shapes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from berth.daemon.networks.portmap import Binding
from berth.util.atomic import write_json_atomic
from berth.util.timefmt import rfc3339nano

__all__ = ["Endpoint", "Network", "Sandbox", "State"]


@dataclass
class Endpoint:
    """A container's interface on one network."""

    endpoint_id: str
    ip: str
    mac: str
    host_if: str
    aliases: list[str] = field(default_factory=list)
    ipam_ip: str = ""  # the address asked for (--ip), kept across restarts


@dataclass
class Network:
    """A network: built-in (bridge, host, none) or user-defined bridge."""

    id: str
    name: str
    driver: str
    created: int
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    bridge: str = ""
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ipam_options: dict[str, str] = field(default_factory=dict)
    user_subnet: bool = False
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        return self.name in ("bridge", "host", "none")

    def to_api(self, names: dict[str, str]) -> dict[str, Any]:
        """Docker's network object; `names` maps container ids to names."""
        config = []
        if self.subnet:
            entry = {"Subnet": self.subnet, "Gateway": self.gateway}
            if self.ip_range:
                entry["IPRange"] = self.ip_range
            config.append(entry)
        prefix = self.subnet.rpartition("/")[2]
        containers = {
            cid: {"Name": names.get(cid, cid[:12]), "EndpointID": ep.endpoint_id, "MacAddress": ep.mac,
                  "IPv4Address": f"{ep.ip}/{prefix}", "IPv6Address": ""}
            for cid, ep in self.endpoints.items()
        }
        return {
            "Name": self.name, "Id": self.id, "Created": rfc3339nano(self.created), "Scope": "local",
            "Driver": self.driver, "EnableIPv4": True, "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": dict(self.ipam_options) if self.ipam_options else None,
                     "Config": config if self.driver != "null" and self.driver != "host" else []},
            "Internal": self.internal, "Attachable": self.attachable, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
            "Options": dict(self.options), "Labels": dict(self.labels),
        }


@dataclass
class Sandbox:
    """A container's network namespace and what it holds: endpoints by network id, published ports."""

    cid: str
    ns_path: str
    networks: list[str] = field(default_factory=list)
    ports: list[Binding] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)


class State:
    """Networks and sandboxes, saved as a whole to `path` after each change."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.networks: dict[str, Network] = {}
        self.sandboxes: dict[str, Sandbox] = {}

    def load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                data = json.load(f)
        except FileNotFoundError:
            return
        for raw in data.get("networks", []):
            eps = {cid: Endpoint(**ep) for cid, ep in (raw.pop("endpoints", None) or {}).items()}
            net = Network(**raw)
            net.endpoints = eps
            self.networks[net.id] = net
        for raw in data.get("sandboxes", []):
            ports = [Binding.from_json(p) for p in raw.pop("ports", [])]
            sb = Sandbox(**raw)
            sb.ports = ports
            self.sandboxes[sb.cid] = sb

    def save(self) -> None:
        nets = []
        for n in self.networks.values():
            raw = {k: v for k, v in vars(n).items() if k != "endpoints"}
            raw["endpoints"] = {cid: vars(ep) for cid, ep in n.endpoints.items()}
            nets.append(raw)
        sbs = [{"cid": s.cid, "ns_path": s.ns_path, "networks": s.networks, "dns": s.dns,
                "ports": [p.to_json() for p in s.ports]} for s in self.sandboxes.values()]
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        write_json_atomic(self.path, {"networks": nets, "sandboxes": sbs}, 0o600)

    def by_name(self, name: str) -> Network | None:
        for n in self.networks.values():
            if n.name == name:
                return n
        return None
