"""The API's networks backend: list/inspect/create/remove/prune, connect/disconnect over the containers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from berth import errdefs
from berth.daemon.networks.model import Network
from berth.daemon.networks.service import NetworksService

__all__ = ["ContainerDirectory", "NetworksFacade"]

_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")


class ContainerDirectory(Protocol):
    """What the networks backend needs of containers (set by wiring)."""

    def get(self, ref: str) -> Any: ...
    def listing(self) -> list[Any]: ...
    def save_record(self, c: Any) -> None: ...


def _running(c: Any) -> bool:
    return str(getattr(c.state, "value", c.state)) in ("running", "paused")


def _labels_match(labels: Mapping[str, str], wanted: Sequence[str]) -> bool:
    for w in wanted:
        key, eq, value = w.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


class NetworksFacade:
    """Implements berth.api.network_backends.NetworksBackend."""

    def __init__(self, networks: NetworksService, containers: ContainerDirectory) -> None:
        self.networks = networks
        self.containers = containers

    def _names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.containers.listing()}

    def _referenced(self, net: Network) -> list[str]:
        return [c.id for c in self.containers.listing() if net.name in (c.networks or {})
                or str(c.host_config.get("NetworkMode") or "") in (net.name, net.id)]

    def _matches(self, net: Network, filters: Mapping[str, Sequence[str]]) -> bool:
        for key, values in filters.items():
            if key not in _FILTERS:
                raise errdefs.InvalidParameter(f"invalid filter '{key}'")
            if not values:
                continue
            if key == "name" and not any(v in net.name for v in values):
                return False
            if key == "id" and not any(net.id.startswith(v) for v in values):
                return False
            if key == "driver" and net.driver not in values:
                return False
            if key == "label" and not _labels_match(net.labels, values):
                return False
            if key == "scope" and "local" not in values:
                return False
            if key == "type":
                kind = "builtin" if net.builtin else "custom"
                if kind not in values:
                    return False
            if key == "dangling":
                dangling = not net.builtin and not self._referenced(net)
                if (values[0].lower() in ("true", "1")) != dangling:
                    return False
        return True

    def list(self, filters: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
        names = self._names()
        nets = sorted(self.networks.state.networks.values(), key=lambda n: n.created)
        return [n.to_api(names) for n in nets if self._matches(n, filters)]

    def inspect(self, ref: str) -> dict[str, Any]:
        return self.networks.find(ref).to_api(self._names())

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        net = await self.networks.create(body)
        return {"Id": net.id, "Warning": ""}

    async def remove(self, ref: str) -> None:
        net = self.networks.find(ref)
        running = [c.id for c in self.containers.listing() if _running(c) and c.id in net.endpoints]
        await self.networks.remove(net.id, running)

    async def prune(self, filters: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        deleted: list[str] = []
        for net in list(self.networks.state.networks.values()):
            if net.builtin or net.endpoints or self._referenced(net):
                continue
            if filters.get("label") and not _labels_match(net.labels, filters["label"]):
                continue
            await self.networks.remove(net.id, [])
            deleted.append(net.name)
        return {"NetworksDeleted": deleted}

    async def connect(self, ref: str, body: dict[str, Any]) -> None:
        net = self.networks.find(ref)
        c = self.containers.get(str(body.get("Container") or ""))
        cfg = dict(body.get("EndpointConfig") or {})
        mode = str(c.host_config.get("NetworkMode") or "")
        if mode in ("host", "none") or mode.startswith("container:") or net.driver != "bridge":
            raise errdefs.Forbidden("container sharing network namespace with another container or host cannot "
                                    "be connected to any other network")
        if net.name in c.networks and _running(c):
            raise errdefs.Forbidden(f"endpoint with name {c.name} already exists in network {net.name}")
        if _running(c):
            settings = await self.networks.connect_running(c.id, net, cfg)
        else:
            settings = self.networks.endpoint_settings(net, c.id)
            settings["IPAMConfig"] = cfg.get("IPAMConfig")
            settings["Aliases"] = cfg.get("Aliases")
        c.networks[net.name] = settings
        self.containers.save_record(c)

    async def disconnect(self, ref: str, body: dict[str, Any]) -> None:
        net = self.networks.find(ref)
        c = self.containers.get(str(body.get("Container") or ""))
        if net.name not in c.networks:
            raise errdefs.Forbidden(f"container {c.id} is not connected to network {net.name}")
        if _running(c):
            await self.networks.disconnect_running(c.id, net)
        c.networks.pop(net.name, None)
        self.containers.save_record(c)
