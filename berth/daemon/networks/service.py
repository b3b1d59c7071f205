"""Networks service: built-in and user bridges, container sandboxes (netns + veths), published ports."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import secrets
import time
from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Any

from berth import errdefs
from berth.daemon.networks import coexist, hostcmd, ipam
from berth.daemon.networks.create import BRIDGE_NAME_OPT, new_network
from berth.daemon.networks.dns import EmbeddedDns, upstream_servers
from berth.daemon.networks.model import Endpoint, Network, Sandbox, State
from berth.daemon.networks.nftables import BridgeRules, PortRule, ruleset
from berth.daemon.networks.portmap import Binding, allocate_bindings, docker_ports
from berth.util.ids import generate_id
from berth.util.timefmt import now_ns

__all__ = ["NetworksService"]

log = logging.getLogger(__name__)



def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class NetworksService:
    """Owns network records and sandboxes; programs bridges, veths and Berth's nftables table."""

    def __init__(self, data_root: str, exec_root: str, bridge: str, bip: str, table: str) -> None:
        self.state = State(os.path.join(data_root, "network", "state.json"))
        self.ns_dir = os.path.join(exec_root, "netns")
        self.bridge = "" if bridge == "none" else bridge
        self.bip = bip
        self.table = table
        self.lock = asyncio.Lock()
        self.fw_lock = asyncio.Lock()
        self.table_made = False
        self.dns = EmbeddedDns()
        self.tasks: set[asyncio.Task[None]] = set()
        self.docker_user_synced: list[BridgeRules] | None = None
        self.container_names: Callable[[], Mapping[str, str]] = dict

    # -- start-up -------------------------------------------------------------------------------
    async def init(self) -> None:
        """Load records, make sure the built-in networks and every bridge exist, program the firewall."""
        os.makedirs(self.ns_dir, mode=0o711, exist_ok=True)
        self.state.load()
        for name, driver in (("host", "host"), ("none", "null")):
            if self.state.by_name(name) is None:
                self._add(Network(id=generate_id(), name=name, driver=driver, created=now_ns()))
        if self.bridge:
            await self._init_default_bridge()
        elif (old := self.state.by_name("bridge")) is not None:
            del self.state.networks[old.id]
        for net in self.state.networks.values():
            if net.driver == "bridge" and net.name != "bridge":
                await hostcmd.ensure_bridge(net.bridge, f"{net.gateway}/{net.subnet.rpartition('/')[2]}")
        self.state.save()
        await self.apply_firewall()

    def _add(self, net: Network) -> None:
        self.state.networks[net.id] = net

    def taken_subnets(self, skip: str = "") -> list[ipaddress.IPv4Network]:
        ours = {n.bridge for n in self.state.networks.values() if n.bridge}
        routes = ipam.host_routes(_read("/proc/net/route"), ours)
        return routes + [ipaddress.IPv4Network(n.subnet) for n in self.state.networks.values()
                         if n.subnet and n.id != skip]

    async def _init_default_bridge(self) -> None:
        net = self.state.by_name("bridge")
        if net is None:
            net = Network(id=generate_id(), name="bridge", driver="bridge", created=now_ns(), bridge=self.bridge)
            self._add(net)
        net.bridge = self.bridge
        net.options = {
            "com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0", BRIDGE_NAME_OPT: self.bridge,
            "com.docker.network.driver.mtu": "1500",
        }
        if self.bip:
            try:
                iface = ipaddress.IPv4Interface(self.bip)
            except ValueError:
                raise errdefs.InvalidParameter(f"invalid --bip: {self.bip}") from None
            net.subnet, net.gateway = str(iface.network), str(iface.ip)
        elif not net.subnet:
            subnet = ipam.default_subnet(self.taken_subnets(skip=net.id))
            net.subnet, net.gateway = str(subnet), str(next(subnet.hosts()))
        await hostcmd.ensure_bridge(self.bridge, f"{net.gateway}/{net.subnet.rpartition('/')[2]}")

    # -- firewall -------------------------------------------------------------------------------
    async def apply_firewall(self) -> None:
        """Rebuild Berth's table from the records (one atomic nft batch)."""
        async with self.fw_lock:
            bridges = [BridgeRules(n.bridge, n.subnet, n.internal) for n in self.state.networks.values()
                       if n.driver == "bridge" and n.bridge]
            ports: list[PortRule] = []
            for sb in self.state.sandboxes.values():
                ip = self._primary_ip(sb)
                if ip:
                    ports += [PortRule(b.proto, b.host_ip, b.host_port, ip, b.port, sb.cid) for b in sb.ports]
            if not bridges:
                if self.table_made:  # never a table of the same name that another daemon made
                    await hostcmd.nft_delete_table(self.table)
                    self.table_made = False
                return
            await hostcmd.nft_apply(ruleset(self.table, bridges, ports))
            self.table_made = True
            # until the DOCKER-USER chain is found, each change looks again (dockerd may start after berthd)
            if bridges != self.docker_user_synced and await coexist.sync_docker_user_rules(self.table, bridges):
                self.docker_user_synced = bridges

    def _primary_ip(self, sb: Sandbox) -> str:
        for nid in sb.networks:
            net = self.state.networks.get(nid)
            if net is not None and sb.cid in net.endpoints and not net.internal:
                return net.endpoints[sb.cid].ip
        return ""

    async def shutdown(self) -> None:
        """berthd stops: the resolver goes (containers keep their netns), our DOCKER-USER rules go."""
        await self.dns.stop()
        with contextlib.suppress(errdefs.BerthError, OSError):
            await coexist.remove_docker_user_rules(self.table)

    # -- lookup ---------------------------------------------------------------------------------
    def find(self, ref: str) -> Network:
        """By full name, full id, or unique id prefix (as docker)."""
        nets = self.state.networks
        if ref in nets:
            return nets[ref]
        named = self.state.by_name(ref)
        if named is not None:
            return named
        matches = [n for n in nets.values() if n.id.startswith(ref)] if ref else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise errdefs.InvalidParameter(f"network {ref} is ambiguous ({len(matches)} matches found on name)")
        raise errdefs.NotFound(f"network {ref} not found")

    def sandbox_path(self, cid: str) -> str | None:
        sb = self.state.sandboxes.get(cid)
        return sb.ns_path if sb is not None else None

    # -- container sandboxes --------------------------------------------------------------------
    def _wanted_networks(self, mode: str, endpoints_config: Mapping[str, Any]) -> list[Network]:
        """The container's bridge networks: its network mode's first, then the others it was connected to."""
        if mode in ("host", "none") or mode.startswith("container:"):
            return []
        if mode == "default":
            mode = "bridge"
        if mode == "bridge" and not self.bridge:
            return []
        first = self.find(mode)
        if first.driver != "bridge":
            return []
        out = [first]
        for name in endpoints_config:
            if name in (mode, first.name, first.id):
                continue
            try:
                net = self.find(name)
            except errdefs.NotFound:
                continue
            if net.driver == "bridge" and net not in out:
                out.append(net)
        return out

    async def setup(self, cid: str, config: Mapping[str, Any], host_config: Mapping[str, Any],
                    endpoints_config: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Create the container's netns on its networks and publish its ports; None = no sandbox of ours."""
        t0 = time.perf_counter()
        eps_cfg = dict(endpoints_config or {})
        nets = self._wanted_networks(str(host_config.get("NetworkMode") or "bridge"), eps_cfg)
        if not nets:
            return None
        exposed = list((config.get("ExposedPorts") or {}).keys())
        async with self.lock:
            if cid in self.state.sandboxes:
                await self._teardown_locked(cid)
            eps: list[Endpoint] = []
            try:
                for net in nets:
                    cfg = dict(eps_cfg.get(net.name) or eps_cfg.get(net.id) or {})
                    eps.append(self._new_endpoint(net, cid, cfg))
                taken = [b for sb in self.state.sandboxes.values() for b in sb.ports]
                bindings = allocate_bindings(host_config.get("PortBindings") or {}, exposed,
                                             bool(host_config.get("PublishAllPorts")), taken)
            except BaseException:
                for net in nets:
                    net.endpoints.pop(cid, None)
                raise
            sb = Sandbox(cid=cid, ns_path=os.path.join(self.ns_dir, cid), networks=[n.id for n in nets],
                         ports=bindings, dns=[str(d) for d in host_config.get("Dns") or []])
            self.state.sandboxes[cid] = sb
            self.state.save()
        try:
            first, ep = nets[0], eps[0]
            await hostcmd.attach_netns(sb.ns_path, first.bridge, ep.host_if, ep.mac, self._cidr(first, ep),
                                       None if first.internal else first.gateway, enslave=False)
            for i, (net, ep) in enumerate(zip(nets[1:], eps[1:], strict=True), start=1):
                await hostcmd.add_interface(sb.ns_path, net.bridge, ep.host_if, f"eth{i}", ep.mac,
                                            self._cidr(net, ep))
        except BaseException:
            await self.teardown(cid)
            raise
        await self.changed()
        log.debug("network setup of %s: %.1f ms", cid[:12], (time.perf_counter() - t0) * 1000)
        # eth0's host end joins the bridge, and the published ports' rules (an nft run) are applied, while the
        # runtime creates the container: the caller awaits "ready" before the container's process starts
        ready = asyncio.ensure_future(self._finish_setup(first.bridge, eps[0].host_if, bool(bindings)))
        return {"ns_path": sb.ns_path, "ip": eps[0].ip, "dns": self.uses_embedded_dns(host_config),
                "networks": {n.name: self.endpoint_settings(n, cid) for n in nets},
                "ports": docker_ports(bindings, exposed), "ready": ready}

    async def _finish_setup(self, bridge: str, host_if: str, ports: bool) -> None:
        await hostcmd.enslave_link(host_if, bridge)
        if ports:
            await self.apply_firewall()

    @staticmethod
    def _cidr(net: Network, ep: Endpoint) -> str:
        return f"{ep.ip}/{net.subnet.rpartition('/')[2]}"

    def _new_endpoint(self, net: Network, cid: str, cfg: Mapping[str, Any]) -> Endpoint:
        wanted_ip = str(((cfg.get("IPAMConfig") or {}).get("IPv4Address")) or "")
        if wanted_ip and not net.user_subnet:
            raise errdefs.Forbidden("user specified IP address is supported only when connecting to networks "
                                    "with user configured subnets")
        if cfg.get("Aliases") and net.name == "bridge":
            raise errdefs.Forbidden("network-scoped aliases are only supported for user-defined networks")
        subnet = ipaddress.IPv4Network(net.subnet)
        used = {ep.ip for ep in net.endpoints.values()} | {net.gateway}
        ip_range = ipaddress.IPv4Network(net.ip_range) if net.ip_range else None
        ip = ipam.allocate(subnet, used, ip_range, wanted_ip or None)
        ep = Endpoint(endpoint_id=generate_id(), ip=ip, mac=ipam.mac_for(ip), host_if="veth" + secrets.token_hex(4)[:7],
                      aliases=[str(a) for a in (cfg.get("Aliases") or [])], ipam_ip=wanted_ip)
        net.endpoints[cid] = ep
        return ep

    async def connect_running(self, cid: str, net: Network, cfg: Mapping[str, Any]) -> dict[str, Any]:
        """`network connect` of a running container: one more interface in its sandbox."""
        sb = self.state.sandboxes.get(cid)
        if sb is None:
            raise errdefs.Forbidden("container sharing network namespace with another container or host "
                                    "cannot be connected to any other network")
        if cid in net.endpoints:
            raise errdefs.Forbidden(f"endpoint with name {cid[:12]} already exists in network {net.name}")
        async with self.lock:
            ep = self._new_endpoint(net, cid, cfg)
            sb.networks.append(net.id)
            self.state.save()
        try:
            await hostcmd.add_interface(sb.ns_path, net.bridge, ep.host_if, f"eth{len(sb.networks) - 1}",
                                        ep.mac, self._cidr(net, ep))
        except BaseException:
            await self.disconnect_running(cid, net)
            raise
        await self.changed()
        return self.endpoint_settings(net, cid)

    async def disconnect_running(self, cid: str, net: Network) -> None:
        async with self.lock:
            ep = net.endpoints.pop(cid, None)
            sb = self.state.sandboxes.get(cid)
            if sb is not None and net.id in sb.networks:
                sb.networks.remove(net.id)
            self.state.save()
        if ep is not None:
            with contextlib.suppress(errdefs.BerthError):
                await hostcmd.delete_link(ep.host_if)
        await self.changed()

    async def changed(self) -> None:
        """Rebuild the embedded DNS tables of containers on user-defined networks."""
        names = self.container_names()
        upstream = upstream_servers(_read("/etc/resolv.conf"))
        tables: dict[str, tuple[str, dict[str, list[str]], list[str]]] = {}
        for sb in self.state.sandboxes.values():
            records: dict[str, list[str]] = {}
            for nid in sb.networks:
                net = self.state.networks.get(nid)
                if net is None or net.name == "bridge":
                    continue
                for cid, ep in net.endpoints.items():
                    for name in {names.get(cid, ""), cid[:12], *ep.aliases} - {""}:
                        records.setdefault(name.lower(), []).append(ep.ip)
            if any(self.state.networks.get(n) and self.state.networks[n].name != "bridge" for n in sb.networks):
                tables[sb.cid] = (sb.ns_path, records, sb.dns or upstream)
        try:
            await self.dns.sync(tables)
        except (OSError, EOFError) as exc:
            log.warning("embedded DNS update failed: %s", exc)

    def uses_embedded_dns(self, host_config: Mapping[str, Any]) -> bool:
        mode = str(host_config.get("NetworkMode") or "bridge")
        return not (mode in ("default", "bridge", "host", "none") or mode.startswith("container:"))

    def endpoint_settings(self, net: Network, cid: str) -> dict[str, Any]:
        ep = net.endpoints.get(cid)
        user = net.name != "bridge"
        return {
            "IPAMConfig": {"IPv4Address": ep.ipam_ip} if ep is not None and ep.ipam_ip else None,
            "Links": None, "Aliases": (list(ep.aliases) if ep is not None else []) or None,
            "MacAddress": ep.mac if ep else "", "DriverOpts": None, "GwPriority": 0, "NetworkID": net.id,
            "EndpointID": ep.endpoint_id if ep else "", "Gateway": net.gateway if ep else "",
            "IPAddress": ep.ip if ep else "", "IPPrefixLen": int(net.subnet.rpartition("/")[2]) if ep else 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "DNSNames": None if not user or ep is None else [*ep.aliases, cid[:12]],
        }

    async def teardown(self, cid: str) -> None:
        """Release the container's addresses, ports and namespace (on stop, failed start and removal)."""
        if cid not in self.state.sandboxes and not any(cid in n.endpoints for n in self.state.networks.values()):
            return
        t0 = time.perf_counter()
        async with self.lock:
            had_ports = await self._teardown_locked(cid)
        if had_ports:
            await self.apply_firewall()
        await self.changed()
        log.debug("network teardown of %s: %.1f ms", cid[:12], (time.perf_counter() - t0) * 1000)

    async def _teardown_locked(self, cid: str) -> bool:
        sb = self.state.sandboxes.pop(cid, None)
        links = []
        for net in self.state.networks.values():
            ep = net.endpoints.pop(cid, None)
            if ep is not None:
                links.append(ep.host_if)
        if sb is None and not links:
            return False
        self.state.save()
        if sb is not None:
            hostcmd.release_netns(sb.ns_path)  # an umount and an unlink: no thread needed
        if links:  # the veths go with the namespace; deleting them is slow (RCU), so off the stop path
            self._background(self._delete_links(links))
        return bool(sb and sb.ports)

    @staticmethod
    async def _delete_links(links: list[str]) -> None:
        for link in links:
            with contextlib.suppress(errdefs.BerthError, OSError):
                await hostcmd.delete_link(link)

    def _background(self, aw: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(aw)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def reconcile(self, live: Collection[str]) -> None:
        """After a daemon restart: drop sandboxes of containers that are not running any more."""
        for cid in list(self.state.sandboxes):
            if cid not in live:
                await self.teardown(cid)
        for net in self.state.networks.values():
            for cid in [c for c in net.endpoints if c not in live]:
                await self.teardown(cid)
        for entry in os.listdir(self.ns_dir):
            if entry not in self.state.sandboxes:
                await asyncio.to_thread(hostcmd.release_netns, os.path.join(self.ns_dir, entry))
        await self.apply_firewall()
        await self.changed()

    # -- user networks --------------------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> Network:
        name = body.get("Name")
        if isinstance(name, str) and self.state.by_name(name) is not None:
            raise errdefs.Conflict(f"network with name {name} already exists")
        bridges = [n.bridge for n in self.state.networks.values() if n.bridge]
        async with self.lock:
            net = new_network(body, self.taken_subnets(), bridges)
            if hostcmd.link_exists(net.bridge):
                raise errdefs.Conflict(f"bridge name {net.bridge} is already in use on the host")
            await hostcmd.ensure_bridge(net.bridge, f"{net.gateway}/{net.subnet.rpartition('/')[2]}")
            self._add(net)
            self.state.save()
        await self.apply_firewall()
        return net

    async def remove(self, ref: str, in_use_by: Collection[str]) -> Network:
        net = self.find(ref)
        if net.builtin:
            raise errdefs.Forbidden(f"{net.name} is a pre-defined network and cannot be removed")
        if net.endpoints or in_use_by:
            raise errdefs.Forbidden(f"error while removing network: network {net.name} id {net.id} has active "
                                    "endpoints")
        async with self.lock:
            self.state.networks.pop(net.id, None)
            self.state.save()
        await hostcmd.delete_link(net.bridge)
        await self.apply_firewall()
        return net

    def ports_of(self, cid: str, exposed: Collection[str]) -> dict[str, Any]:
        sb = self.state.sandboxes.get(cid)
        return docker_ports(sb.ports if sb else [], exposed)

    def bindings_of(self, cid: str) -> list[Binding]:
        sb = self.state.sandboxes.get(cid)
        return list(sb.ports) if sb else []
