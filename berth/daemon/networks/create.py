"""`POST /networks/create` bodies checked and turned into Network records, with docker's error texts."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from berth import errdefs
from berth.daemon.networks import ipam
from berth.daemon.networks.model import Network
from berth.util.ids import generate_id
from berth.util.timefmt import now_ns

__all__ = ["BRIDGE_NAME_OPT", "new_network"]

BRIDGE_NAME_OPT = "com.docker.network.bridge.name"
IFNAMSIZ = 15


def _net(text: str, what: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise errdefs.InvalidParameter(f"invalid {what} {text}: invalid CIDR address: {text}") from None


def _ip(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise errdefs.InvalidParameter(f"invalid gateway address {text}: ParseAddr({text!r}): "
                                       "unable to parse IP") from None


def new_network(body: dict[str, Any], taken: Sequence[ipaddress.IPv4Network], existing_bridges: Sequence[str],
                ) -> Network:
    """A user-defined bridge network from a create body; `taken` are the subnets in use (routes, networks)."""
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise errdefs.InvalidParameter("network name must not be empty")
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        raise errdefs.NotFound(f'plugin "{driver}" not found')
    options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
    nid = generate_id()
    bridge = options.get(BRIDGE_NAME_OPT) or f"br-{nid[:12]}"
    if len(bridge) > IFNAMSIZ:
        raise errdefs.InvalidParameter(f"invalid bridge name {bridge!r}: interface name is longer than "
                                       f"{IFNAMSIZ} characters")
    if bridge in existing_bridges:
        raise errdefs.Conflict(f"bridge name {bridge} is already in use by another network")
    ipam_cfg = body.get("IPAM") or {}
    configs = [c for c in (ipam_cfg.get("Config") or []) if c]
    net = Network(id=nid, name=name, driver="bridge", created=now_ns(), bridge=bridge,
                  internal=bool(body.get("Internal")), attachable=bool(body.get("Attachable")),
                  labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()}, options=options,
                  ipam_options={str(k): str(v) for k, v in (ipam_cfg.get("Options") or {}).items()})
    if configs:
        cfg = configs[0]
        subnet_text = str(cfg.get("Subnet") or "")
        if not subnet_text:
            raise errdefs.InvalidParameter("invalid pool request: no subnet given")
        subnet = _net(subnet_text, "subnet")
        if str(subnet) != subnet_text and "/" in subnet_text and subnet_text.split("/")[0] != str(
                subnet.network_address):
            raise errdefs.InvalidParameter(f"invalid subnet {subnet_text} : it should be {subnet}")
        if ipam.overlaps(subnet, taken):
            raise errdefs.Forbidden("invalid pool request: Pool overlaps with other one on this address space")
        gateway = str(cfg.get("Gateway") or "")
        if gateway:
            if _ip(gateway) not in subnet:
                raise errdefs.Forbidden(f"no matching subnet for gateway {gateway}")
        else:
            gateway = str(next(subnet.hosts()))
        ip_range = str(cfg.get("IPRange") or "")
        if ip_range:
            rng = _net(ip_range, "ip-range")
            if not rng.subnet_of(subnet):
                raise errdefs.Forbidden(f"invalid pool request: ip-range {ip_range} is not within subnet {subnet}")
            ip_range = str(rng)
        net.subnet, net.gateway, net.ip_range, net.user_subnet = str(subnet), gateway, ip_range, True
    else:
        subnet = ipam.default_subnet(taken)
        net.subnet, net.gateway = str(subnet), str(next(subnet.hosts()))
    return net
