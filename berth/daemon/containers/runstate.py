"""In-memory, per-container runtime state: the shim handle, waiters and attachers waiting for start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from berth.daemon.containers.ports import ShimHandle
from berth.daemon.containers.restartpolicy import Backoff

__all__ = ["PendingAttach", "RunState", "Waiter"]


@dataclass(slots=True)
class Waiter:
    """A `wait` call: resolved with {"StatusCode": n, "Error": ...} when its condition is met."""

    condition: str
    future: asyncio.Future[dict[str, Any]]


@dataclass(slots=True)
class PendingAttach:
    """An attach made before the container started: connected to the shim at start."""

    stdin: bool
    stdout: bool
    stderr: bool
    connected: asyncio.Future[Any]


@dataclass(slots=True)
class RunState:
    """What the daemon holds for one container while it lives (never persisted)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    shim: ShimHandle | None = None
    waiters: list[Waiter] = field(default_factory=list)
    pending_attach: list[PendingAttach] = field(default_factory=list)
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False
    backoff: Backoff = field(default_factory=Backoff)
    restart_called_off: asyncio.Event | None = None  # set to drop the restart policy's start that waits

    def cancel_restart(self) -> bool:
        """Drop a restart that waits for its delay; whether there was one."""
        event, self.restart_called_off = self.restart_called_off, None
        if event is None:
            return False
        event.set()
        return True

    def resolve_waiters(self, conditions: tuple[str, ...], result: dict[str, Any]) -> None:
        keep = []
        for w in self.waiters:
            if w.condition in conditions:
                if not w.future.done():
                    w.future.set_result(result)
            else:
                keep.append(w)
        self.waiters = keep

    def fail_pending(self, exc: BaseException) -> None:
        for p in self.pending_attach:
            if not p.connected.done():
                p.connected.set_exception(exc)
        self.pending_attach.clear()
