"""Berth's nftables ruleset (one table of its own), rebuilt as a whole from state and applied atomically."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BridgeRules", "PortRule", "ruleset"]


@dataclass(frozen=True, slots=True)
class BridgeRules:
    """One Berth bridge: its interface, subnet, and whether it may reach outside (not --internal)."""

    name: str
    subnet: str
    internal: bool = False


@dataclass(frozen=True, slots=True)
class PortRule:
    """A published port: host ip (0.0.0.0 = any local address) and port to a container address and port."""

    proto: str
    host_ip: str
    host_port: int
    ip: str
    port: int
    owner: str


def _q(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def _dnat(p: PortRule) -> str:
    match = f"{p.proto} dport {p.host_port}"
    if p.host_ip not in ("0.0.0.0", ""):
        match = f"ip daddr {p.host_ip} {match}"
    return f"    {match} dnat to {p.ip}:{p.port} comment {_q('ctr=' + p.owner[:12])}\n"


def ruleset(table: str, bridges: Sequence[BridgeRules], ports: Sequence[PortRule]) -> str:
    """The whole table: created if missing, deleted, and defined again in one batch (idempotent)."""
    out = [f"table ip {table} {{}}\n", f"delete table ip {table}\n", f"table ip {table} {{\n"]
    out.append("  chain publish {\n")
    out += [_dnat(p) for p in ports]
    out.append("  }\n")
    out.append("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n"
               "    fib daddr type local jump publish\n  }\n")
    out.append("  chain output {\n    type nat hook output priority -100; policy accept;\n"
               "    fib daddr type local jump publish\n  }\n")
    out.append("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n")
    for b in bridges:
        br = _q(b.name)
        out.append(f"    oifname {br} ip saddr 127.0.0.0/8 masquerade\n")
        out.append(f"    oifname {br} ct status dnat ip saddr {b.subnet} masquerade\n")
        if not b.internal:
            out.append(f"    ip saddr {b.subnet} oifname != {br} masquerade\n")
    out.append("  }\n")
    out.append("  chain forward {\n    type filter hook forward priority filter; policy accept;\n")
    names = [b.name for b in bridges]
    for b in bridges:
        br = _q(b.name)
        for other in names:
            if other != b.name:
                out.append(f"    iifname {br} oifname {_q(other)} drop\n")
        if b.internal:
            out.append(f"    iifname {br} oifname != {br} drop\n")
            out.append(f"    oifname {br} iifname != {br} drop\n")
    out.append("  }\n")
    out.append("  chain raw_prerouting {\n    type filter hook prerouting priority -300; policy accept;\n")
    out.append('    iifname != "lo" ip daddr 127.0.0.0/8 drop\n')
    out.append("  }\n}\n")
    return "".join(out)
