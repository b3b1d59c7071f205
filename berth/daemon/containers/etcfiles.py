"""The container's /etc/hostname, /etc/hosts and /etc/resolv.conf, written atomically in its directory."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from typing import Any

from berth import errdefs
from berth.util.atomic import write_atomic

__all__ = ["build_hosts", "build_resolv_conf", "parse_extra_host", "write_all"]

_DEFAULT_HOSTS = (
    ("127.0.0.1", "localhost"),
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
)
_FALLBACK_V4 = ("8.8.8.8", "8.8.4.4")
_FALLBACK_V6 = ("2001:4860:4860::8888", "2001:4860:4860::8844")


def parse_extra_host(entry: str, host_gateway: str | None = None) -> tuple[str, str]:
    """"name:ip" or "name=ip" as (ip, name); "host-gateway" becomes `host_gateway`."""
    sep = "=" if "=" in entry else ":"
    name, found, ip = entry.partition(sep)
    if not found or not name:
        raise errdefs.InvalidParameter(f"bad format for add-host: {entry!r}")
    if ip == "host-gateway":
        if host_gateway is None:
            raise errdefs.InvalidParameter("unable to derive the IP value for host-gateway")
        ip = host_gateway
    ip = ip.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise errdefs.InvalidParameter(f"invalid IP address in add-host: {ip!r}") from None
    return ip, name


def build_hosts(hostname: str, domainname: str, ip: str | None, extra_hosts: Sequence[str],
                base: str | None = None, host_gateway: str | None = None) -> str:
    """Docker's /etc/hosts: defaults (or `base`, the host's file in host mode), extra hosts, own record."""
    if base is not None:
        lines = [base.rstrip("\n")] if base.strip() else []
    else:
        lines = [f"{addr}\t{names}" for addr, names in _DEFAULT_HOSTS]
    for entry in extra_hosts:
        addr, name = parse_extra_host(entry, host_gateway)
        lines.append(f"{addr}\t{name}")
    if ip:
        names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
        lines.append(f"{ip}\t{names}")
    return "\n".join(lines) + "\n"


def _is_local_or_unwanted(addr: str, ipv6: bool) -> bool:
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    return isinstance(ip, ipaddress.IPv6Address) and not ipv6


def _parse_resolv(text: str) -> tuple[list[str], list[str], list[str]]:
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith(("#", ";")):
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            nameservers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            search = fields[1:]
        elif fields[0] == "options":
            options += fields[1:]
    return nameservers, search, options


def _filtered(text: str, ipv6: bool) -> str:
    """The host's file minus loopback (and, without IPv6, IPv6) nameservers; Google DNS if none is left."""
    kept = []
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["nameserver"] and len(fields) > 1 and _is_local_or_unwanted(fields[1], ipv6):
            continue
        kept.append(line)
    out = "\n".join(kept).strip("\n")
    out = out + "\n" if out else ""
    if not _parse_resolv(out)[0]:
        fallback = _FALLBACK_V4 + (_FALLBACK_V6 if ipv6 else ())
        out += "".join(f"nameserver {ns}\n" for ns in fallback)
    return out


def build_resolv_conf(host_text: str, host_network: bool, dns: Sequence[str] = (),
                      dns_search: Sequence[str] = (), dns_options: Sequence[str] = (),
                      ipv6: bool = False, embedded_dns: bool = False) -> str:
    """Docker's resolv.conf for a container from the host's file and the Dns* overrides.

    With `embedded_dns` (user-defined networks) the only nameserver is 127.0.0.11 (which forwards to the
    others) and ndots:0 comes first among the options, as docker writes it."""
    base = host_text if host_network else _filtered(host_text, ipv6)
    if not (dns or dns_search or dns_options or embedded_dns):
        return base
    servers, search, options = _parse_resolv(base)
    servers = list(dns) or servers
    if embedded_dns:
        servers = ["127.0.0.11"]
        options = list(dns_options) or options
        dns_options = ["ndots:0", *[o for o in options if not o.startswith("ndots:")]]
    search = list(dns_search) or search
    options = list(dns_options) or options
    out = ""
    if search and " ".join(search).strip() != ".":
        out += "search " + " ".join(search) + "\n"
    out += "".join(f"nameserver {ns}\n" for ns in servers)
    if options and " ".join(options).strip():
        out += "options " + " ".join(options) + "\n"
    return out


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def write_all(root: str, config: Mapping[str, Any], host_config: Mapping[str, Any], *, ip: str | None = None,
              host_resolv_conf: str = "/etc/resolv.conf", host_hosts: str = "/etc/hosts",
              host_gateway: str | None = None, embedded_dns: bool = False, durable: bool = True) -> list[str]:
    """Write `root`/hostname, hosts and resolv.conf for the container's Config and HostConfig; returns their paths
    (to flush later when not `durable`)."""
    hostname = str(config.get("Hostname") or "")
    domainname = str(config.get("Domainname") or "")
    host_net = (host_config.get("NetworkMode") or "") == "host"
    paths = [os.path.join(root, name) for name in ("hostname", "hosts", "resolv.conf")]
    write_atomic(paths[0], (hostname + "\n").encode(), durable=durable)
    hosts = build_hosts(hostname, domainname, None if host_net else ip, host_config.get("ExtraHosts") or [],
                        base=_read(host_hosts) if host_net else None, host_gateway=host_gateway)
    write_atomic(paths[1], hosts.encode(), durable=durable)
    resolv = build_resolv_conf(
        _read(host_resolv_conf), host_net, host_config.get("Dns") or [], host_config.get("DnsSearch") or [],
        host_config.get("DnsOptions") or [], embedded_dns=embedded_dns,
    )
    write_atomic(paths[2], resolv.encode(), durable=durable)
    return paths
