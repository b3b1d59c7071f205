"""Address management: default subnet choice, address allocation, MAC addresses derived from IPs."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable

from berth import errdefs

__all__ = ["allocate", "default_subnet", "host_routes", "mac_for", "overlaps"]

IPv4Net = ipaddress.IPv4Network
_POOL = [f"172.{n}.0.0/16" for n in range(18, 32)] + [f"192.168.{n}.0/20" for n in range(0, 256, 16)]


def host_routes(route_text: str, skip_ifaces: Collection[str] = ()) -> list[IPv4Net]:
    """Destinations of the host's IPv4 routes from /proc/net/route (default route and `skip_ifaces` excluded)."""
    out: list[IPv4Net] = []
    for line in route_text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[0] in skip_ifaces:
            continue
        dest = int(fields[1], 16).to_bytes(4, "little")
        mask = int(fields[7], 16).to_bytes(4, "little")
        if mask == b"\0\0\0\0":
            continue
        out.append(IPv4Net((bytes(dest), sum(bin(b).count("1") for b in mask)), strict=False))
    return out


def overlaps(net: IPv4Net, others: Iterable[IPv4Net]) -> bool:
    return any(net.overlaps(o) for o in others)


def default_subnet(taken: Iterable[IPv4Net]) -> IPv4Net:
    """The first subnet of the pool that overlaps no host route nor other network."""
    busy = list(taken)
    for cidr in _POOL:
        net = IPv4Net(cidr)
        if not overlaps(net, busy):
            return net
    raise errdefs.Unavailable("could not find an available, non-overlapping IPv4 address pool among the "
                              "defaults to assign to the network")


def allocate(subnet: IPv4Net, used: Collection[str], ip_range: IPv4Net | None = None,
             wanted: str | None = None) -> str:
    """A free host address of `subnet` (within `ip_range`), or `wanted` when it is free."""
    if wanted:
        addr = ipaddress.IPv4Address(wanted)
        if addr not in subnet:
            raise errdefs.InvalidParameter(f"Invalid address {wanted}: It does not belong to any of this "
                                           "network's subnets")
        if wanted in used or addr in (subnet.network_address, subnet.broadcast_address):
            raise errdefs.Conflict(f"Address already in use: {wanted}")
        return wanted
    pool = ip_range or subnet
    for addr in pool.hosts() if pool.prefixlen < 31 else pool:
        text = str(addr)
        if text not in used and addr not in (subnet.network_address, subnet.broadcast_address):
            return text
    raise errdefs.Unavailable(f"no available IPv4 addresses on this network's address pools: {subnet}")


def mac_for(ip: str) -> str:
    """Docker's MAC for an IPv4 address: 02:42 then the address's four bytes."""
    raw = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in raw)
