"""Where a registry host is reached (distribution layer): Docker Hub's API host, mirrors, insecure registries."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

__all__ = ["HUB_API", "base_urls", "is_insecure"]

HUB_API = "https://registry-1.docker.io"
_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io")
_LOOPBACK = ("localhost",)


def _host_only(hostport: str) -> str:
    if hostport.startswith("["):
        return hostport[1:].partition("]")[0]
    return hostport.rpartition(":")[0] if hostport.count(":") == 1 else hostport


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(str(info[4][0]).partition("%")[0]))
        except ValueError:
            continue
    return out


def is_insecure(hostport: str, insecure: Iterable[str] = ()) -> bool:
    """Unverified TLS, then plain HTTP: loopback (moby's 127.0.0.0/8 default), or a configured host or CIDR."""
    host = _host_only(hostport)
    entries = list(insecure)
    if hostport in entries or host in entries or host in _LOOPBACK:
        return True
    nets = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return any(addr.is_loopback or any(addr in net for net in nets) for addr in _addresses(host))


def base_urls(domain: str, insecure: Iterable[str] = (), mirrors: Iterable[str] = ()) -> list[str]:
    """Base URLs to try for `domain`, in order (mirrors first for Docker Hub)."""
    if domain in _HUB_NAMES:
        return [m.rstrip("/") for m in mirrors] + [HUB_API]
    if is_insecure(domain, insecure):  # moby: TLS first (unverified), then plain HTTP
        return [f"https://{domain}", f"http://{domain}"]
    return [f"https://{domain}"]
