"""The daemon's side of the embedded DNS: one resolver helper process, fed name tables per container."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from berth.daemon.shimclient import python_env

__all__ = ["EmbeddedDns", "upstream_servers"]

log = logging.getLogger(__name__)


def upstream_servers(resolv_text: str) -> list[str]:
    """The host's nameservers minus loopback ones (as docker), IPv4 only."""
    out = []
    for line in resolv_text.splitlines():
        fields = line.split()
        if fields[:1] == ["nameserver"] and len(fields) > 1:
            ns = fields[1]
            if ":" not in ns and not ns.startswith("127."):
                out.append(ns)
    return out


class EmbeddedDns:
    """Starts `python -m berth.netns.dns` on first use and sends it set/del commands (one at a time)."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()
        self.served: set[str] = set()

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self.proc is None or self.proc.returncode is not None:
            self.served.clear()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "berth.netns.dns", env=python_env(), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE)
        return self.proc

    async def _send(self, cmd: dict[str, Any]) -> None:
        proc = await self._ensure()
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await proc.stdin.drain()
        reply = (await proc.stdout.readline()).decode().strip()
        if reply != "ok":
            log.warning("embedded DNS %s %s: %s", cmd.get("op"), str(cmd.get("cid"))[:12], reply or "helper gone")

    async def sync(self, tables: Mapping[str, tuple[str, dict[str, list[str]], Sequence[str]]]) -> None:
        """`tables`: cid -> (netns path, name records, upstream servers); others stop being served."""
        async with self.lock:
            if not tables and not self.served:
                return
            for cid in sorted(self.served - set(tables)):
                await self._send({"op": "del", "cid": cid})
                self.served.discard(cid)
            for cid, (ns, records, upstream) in tables.items():
                await self._send({"op": "set", "cid": cid, "ns": ns, "records": records,
                                  "upstream": list(upstream)})
                self.served.add(cid)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 2)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
