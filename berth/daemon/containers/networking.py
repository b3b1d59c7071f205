"""A container's network over a run: its namespace wired by the network service (or another container's joined)
before it starts, and given back when it stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from berth import errdefs
from berth.daemon.containers import etcfiles
from berth.daemon.containers.endpoints import emptied
from berth.daemon.containers.model import Container, State
from berth.daemon.containers.ports import NetworkAttacher

__all__ = ["ContainerNetwork"]

log = logging.getLogger(__name__)


class ContainerNetwork:
    """`network` wires sandboxes (none: only --network container:X joins happen); `get` finds a container by
    reference; `flush_later` makes the rewritten /etc files durable off the start's path."""

    def __init__(self, network: NetworkAttacher | None, get: Callable[[str], Container],
                 flush_later: Callable[[list[str]], None]) -> None:
        self.network, self.get, self.flush_later = network, get, flush_later

    async def up(self, c: Container) -> tuple[dict[str, str], Awaitable[object] | None]:
        """The namespaces to join by path (the sandbox the network service wires, or another container's), and
        what to await before the container's process starts (its published ports), if anything."""
        mode = str(c.host_config.get("NetworkMode") or "")
        if mode.startswith("container:"):
            target = self.get(mode.split(":", 1)[1])
            if target.state not in (State.RUNNING, State.PAUSED) or not target.pid:
                return {}, None
            path = self.network.sandbox_path(target.id) if self.network is not None else None
            return {"network": path or f"/proc/{target.pid}/ns/net"}, None
        if self.network is None:
            return {}, None
        att = await self.network.setup(c.id, c.config, c.host_config, c.networks)
        if att is None:
            return {}, None
        c.networks = {**c.networks, **att["networks"]}
        c.ports, c.sandbox_key = dict(att["ports"]), str(att["ns_path"])
        self.flush_later(await asyncio.to_thread(
            etcfiles.write_all, c.root, c.config, c.host_config, ip=att["ip"], embedded_dns=bool(att.get("dns")),
            durable=False))
        return {"network": att["ns_path"]}, att.get("ready")

    async def down(self, c: Container) -> None:
        """Addresses, ports and the namespace go back when the container stops (the records stay, emptied)."""
        if self.network is None:
            return
        try:
            await self.network.teardown(c.id)
        except (OSError, errdefs.BerthError) as exc:
            log.warning("network teardown of %s failed: %s", c.id[:12], exc)
        c.networks = {name: emptied(ep) for name, ep in c.networks.items()}
        c.ports, c.sandbox_key = {}, ""
