"""A container's network endpoint records (NetworkSettings.Networks) while it is created or stopped."""

from __future__ import annotations

from typing import Any

from berth import errdefs

__all__ = ["emptied", "requested_endpoints"]

_ENDPOINT_KEYS = ("IPAMConfig", "Links", "Aliases", "MacAddress", "DriverOpts", "GwPriority", "NetworkID",
                  "EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address",
                  "GlobalIPv6PrefixLen", "DNSNames")


def emptied(ep: dict[str, Any]) -> dict[str, Any]:
    """An endpoint of a stopped container: what was asked for and the network id, no addresses."""
    keep = {"IPAMConfig", "Links", "Aliases", "DriverOpts", "NetworkID", "GwPriority", "DNSNames"}
    blank: dict[str, Any] = {"MacAddress": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                             "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0}
    return {k: (ep.get(k) if k in keep else blank.get(k)) for k in _ENDPOINT_KEYS}


def requested_endpoints(body: dict[str, Any], host_config: dict[str, Any]) -> dict[str, Any]:
    """NetworkSettings.Networks of a created container: its network mode's entry, with what the client asked."""
    mode = str(host_config.get("NetworkMode") or "bridge")
    if mode.startswith("container:"):
        return {}
    asked = ((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})
    if not isinstance(asked, dict):
        raise errdefs.InvalidParameter("NetworkingConfig.EndpointsConfig must be an object")
    out: dict[str, Any] = {}
    for name, cfg in asked.items():
        out["bridge" if name == "default" else name] = emptied(dict(cfg or {}))
    if not out:
        out[mode] = emptied({})
    return out
