"""Restart policies (HostConfig.RestartPolicy) as dockerd's restart manager decides them: whether a container
that exited starts again, after how long, and the start that waits for that delay."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from berth import errdefs
from berth.daemon.containers.model import Container, State

if TYPE_CHECKING:  # runstate imports this module (for Backoff)
    from berth.daemon.containers.runstate import RunState

__all__ = ["Backoff", "RestartScheduler", "should_restart"]

log = logging.getLogger(__name__)

FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0  # a run at least this long starts the backoff again


def should_restart(host_config: Mapping[str, Any], exit_code: int, manually_stopped: bool,
                   restart_count: int) -> bool:
    """always: yes; unless-stopped: unless a user stopped or killed it; on-failure[:N]: after a non-zero exit,
    at most N times (0: no limit)."""
    policy = host_config.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    if name == "always":
        return True
    if name == "unless-stopped":
        return not manually_stopped
    if name == "on-failure":
        most = int(policy.get("MaximumRetryCount") or 0)
        return exit_code != 0 and (most == 0 or restart_count < most)
    return False


@dataclass(slots=True)
class Backoff:
    """The delay before each restart: 100 ms, doubled each time up to a minute, back to 100 ms after a run of
    10 s or more."""

    delay: float = 0.0

    def next(self, ran_for: float) -> float:
        if ran_for >= RESET_AFTER:
            self.delay = 0.0
        self.delay = FIRST_DELAY if self.delay == 0.0 else min(self.delay * 2, MAX_DELAY)
        return self.delay


class RestartScheduler:
    """The restart policy's starts after their delay; a user's stop, kill, start or rm calls them off.

    `start` starts a container under its lock held by the caller; `save` persists a record; `known` tells
    whether a container still exists."""

    def __init__(self, start: Callable[[Container, RunState], Awaitable[None]],
                 save: Callable[[Container], None], spawn: Callable[[Awaitable[None]], None],
                 known: Callable[[str], bool]) -> None:
        self.start, self.save, self.spawn, self.known = start, save, spawn, known

    def schedule(self, c: Container, rs: RunState, delay: float) -> None:
        c.mark_restarting()
        self.save(c)
        called_off = rs.restart_called_off = asyncio.Event()

        async def restart() -> None:
            try:
                async with asyncio.timeout(delay):
                    await called_off.wait()
                return
            except TimeoutError:
                pass
            async with rs.lock:
                if called_off.is_set() or c.state != State.RESTARTING or not self.known(c.id):
                    return
                rs.restart_called_off = None
                c.restart_count += 1
                try:
                    await self.start(c, rs)
                except errdefs.BerthError as exc:  # recorded by the failed start; the policy gives up, as dockerd
                    log.warning("restart of %s failed: %s", c.id[:12], exc)
                    if c.state == State.RESTARTING:
                        c.state = State.EXITED
                        self.save(c)

        self.spawn(restart())

    def call_off(self, c: Container, rs: RunState) -> bool:
        """A restarting container stays exited; whether it was restarting."""
        rs.cancel_restart()
        if c.state != State.RESTARTING:
            return False
        c.state = State.EXITED
        self.save(c)
        return True
