"""Restart policies (HostConfig.RestartPolicy) as dockerd's restart manager decides them: whether a container
that exited starts again, and after how long."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Backoff", "should_restart"]

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
