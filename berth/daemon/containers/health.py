"""Healthchecks (Config.Healthcheck) as dockerd's health monitor runs them: a probe exec'd in the running
container every interval, its last results, and the container's health status with its events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from berth import errdefs
from berth.daemon.containers.execs import ExecService
from berth.daemon.containers.model import Container, State
from berth.daemon.containers.service import ContainersService
from berth.util.timefmt import rfc3339nano

__all__ = ["HealthChecks", "go_duration", "probe_command", "record"]

log = logging.getLogger(__name__)

SECOND = 1_000_000_000
DEFAULT_INTERVAL = DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
KEEP_RESULTS = 5
MAX_OUTPUT = 4096
_EXIT_FRAME = 3


def probe_command(healthcheck: Mapping[str, Any] | None) -> list[str] | None:
    """The probe's argv: ["CMD", args...] as is, ["CMD-SHELL", line] through /bin/sh -c; None for none."""
    test = list((healthcheck or {}).get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return test[1:] or None
    return None


def record(health: dict[str, Any], result: dict[str, Any], retries: int, in_start_period: bool) -> str:
    """Add a probe's result; returns the new status. A failure counts towards `retries` in a row, except while
    the container is still starting within its start period."""
    results = [*health.get("Log", []), result][-KEEP_RESULTS:]
    streak = int(health.get("FailingStreak") or 0)
    status = str(health.get("Status") or "starting")
    if result["ExitCode"] == 0:
        streak, status = 0, "healthy"
    elif not (status == "starting" and in_start_period):
        streak += 1
        if streak >= retries:
            status = "unhealthy"
    health.update({"Status": status, "FailingStreak": streak, "Log": results})
    return status


def go_duration(ns: int) -> str:
    """Go's time.Duration String for the durations people give ("300ms", "1.5s", "2m0s")."""
    if ns < SECOND:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size or unit == "ns":
                return f"{ns / size:.9g}{unit}"
    minutes, rest = divmod(ns, 60 * SECOND)
    hours, minutes = divmod(minutes, 60)
    seconds = f"{rest / SECOND:.9g}s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    return f"{minutes}m{seconds}" if minutes else seconds


class HealthChecks:
    """One monitor task per running container that has a healthcheck; started and stopped with the container."""

    def __init__(self, containers: ContainersService, execs: ExecService,
                 spawn: Callable[[Awaitable[None]], None]) -> None:
        self.containers = containers
        self.execs = execs
        self.spawn = spawn
        self._stops: dict[str, asyncio.Event] = {}

    def started(self, c: Container, fresh: bool) -> None:
        """The container runs (`fresh`: it just started, not found running at berthd's start)."""
        self.stopped(c)
        healthcheck = c.config.get("Healthcheck")
        command = probe_command(healthcheck)
        if command is None:
            c.health = None
            return
        if fresh or c.health is None:
            c.health = {"Status": "starting", "FailingStreak": 0, "Log": []}
        stop = self._stops[c.id] = asyncio.Event()
        self.spawn(self._monitor(c, command, dict(healthcheck or {}), stop, time.monotonic()))

    def stopped(self, c: Container) -> None:
        stop = self._stops.pop(c.id, None)
        if stop is not None:
            stop.set()

    async def _monitor(self, c: Container, command: list[str], hc: dict[str, Any], stop: asyncio.Event,
                       began: float) -> None:
        interval = int(hc.get("Interval") or 0) or DEFAULT_INTERVAL
        timeout = int(hc.get("Timeout") or 0) or DEFAULT_TIMEOUT
        start_period = int(hc.get("StartPeriod") or 0)
        start_interval = int(hc.get("StartInterval") or 0) or DEFAULT_START_INTERVAL
        retries = int(hc.get("Retries") or 0) or DEFAULT_RETRIES
        while True:
            in_start_period = (time.monotonic() - began) * SECOND < start_period
            wait = start_interval if in_start_period else interval
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait / SECOND):
                    await stop.wait()
            if stop.is_set() or c.state != State.RUNNING:
                if stop.is_set():
                    return
                continue  # paused: no probes until it runs again
            in_start_period = (time.monotonic() - began) * SECOND < start_period
            result = await self._probe(c, command, timeout)
            if stop.is_set() or c.health is None:
                return
            before = c.health.get("Status")
            now = record(c.health, result, retries, in_start_period)
            self.containers.save_record(c)
            if now != before:
                self.containers.emit(c, f"health_status: {now}")

    async def _probe(self, c: Container, command: list[str], timeout: int) -> dict[str, Any]:
        """Run `command` in the container as an exec; its exit code and first 4 KiB of output, or -1 after
        `timeout` (the probe is killed)."""
        start = time.time_ns()
        output = b""
        code = -1
        try:
            eid = self.execs.create(c.id, {"Cmd": command, "AttachStdout": True, "AttachStderr": True})
            rec, stream = await self.execs.start(eid, False)
        except (errdefs.BerthError, OSError) as exc:
            return _result(start, -1, f"failed to exec the healthcheck: {exc}")
        try:
            async with asyncio.timeout(timeout / SECOND):
                while (frame := await stream.read_frame()) is not None:
                    kind, data = frame
                    if kind == _EXIT_FRAME:
                        code = int(json.loads(data or b"{}").get("exit_code", -1))
                        break
                    if len(output) < MAX_OUTPUT:
                        output += data[:MAX_OUTPUT - len(output)]
        except TimeoutError:
            shim = self.containers.state_of(c).shim
            if shim is not None:
                with contextlib.suppress(errdefs.BerthError, OSError):
                    await shim.kill(signal.SIGKILL, exec_id=eid)
            self.execs.finished(rec, 137)
            await stream.close()
            return _result(start, -1, f"Health check exceeded timeout ({go_duration(timeout)})")
        await stream.close()
        self.execs.finished(rec, code)
        return _result(start, code, output.decode("utf-8", "replace"))


def _result(start: int, code: int, output: str) -> dict[str, Any]:
    return {"Start": rfc3339nano(start), "End": rfc3339nano(time.time_ns()), "ExitCode": code, "Output": output}
