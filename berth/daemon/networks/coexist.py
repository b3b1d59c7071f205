"""Living beside dockerd: accept rules for Berth's bridges in its `ip filter` DOCKER-USER chain, when it exists.

dockerd sets the iptables FORWARD policy to drop, and a drop in any base chain on the hook wins over our own
accept: so forwarded traffic of our bridges needs an accept in that table. DOCKER-USER is the chain Docker
documents for users' rules; it is the only thing outside Berth's own table that Berth touches, and each rule
carries the comment "berth:<table>" so that only ours are ever removed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from berth.daemon.networks import hostcmd
from berth.daemon.networks.nftables import BridgeRules

__all__ = ["remove_docker_user_rules", "sync_docker_user_rules"]

CHAIN = ("ip", "filter", "DOCKER-USER")
_HANDLE = re.compile(r"# handle (\d+)\s*$")


async def _our_handles(tag: str) -> list[str] | None:
    """Handles of our rules in DOCKER-USER, or None when that chain does not exist."""
    rc, out = await hostcmd.run_output(["nft", "-a", "list", "chain", *CHAIN])
    if rc != 0:
        return None
    handles = []
    for line in out.splitlines():
        m = _HANDLE.search(line)
        if m and f'comment "{tag}"' in line:
            handles.append(m.group(1))
    return handles


def _rules(tag: str, bridges: Sequence[BridgeRules]) -> list[str]:
    out = []
    for b in bridges:
        br = '"' + b.name + '"'
        if b.internal:
            out.append(f'iifname {br} oifname {br} accept comment "{tag}"')
        else:
            out.append(f'iifname {br} accept comment "{tag}"')
            out.append(f'oifname {br} ct state related,established accept comment "{tag}"')
    return out


async def sync_docker_user_rules(table: str, bridges: Sequence[BridgeRules]) -> bool:
    """Replace our accept rules in DOCKER-USER (one atomic batch); False when the chain is absent."""
    tag = f"berth:{table}"
    handles = await _our_handles(tag)
    if handles is None:
        return False
    chain = " ".join(CHAIN)
    script = "".join(f"delete rule {chain} handle {h}\n" for h in handles)
    script += "".join(f"insert rule {chain} {r}\n" for r in _rules(tag, bridges))
    if script:
        await hostcmd.nft_apply(script)
    return True


async def remove_docker_user_rules(table: str) -> None:
    """Take our rules out of DOCKER-USER (berthd shutting down)."""
    handles = await _our_handles(f"berth:{table}")
    if handles:
        chain = " ".join(CHAIN)
        await hostcmd.nft_apply("".join(f"delete rule {chain} handle {h}\n" for h in handles))
