"""Healthchecks against berthd with the real docker CLI: status, results, events, timeouts, ps."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.daemon_harness import DOCKER, Daemon, eventually, ok

pytestmark = pytest.mark.e2e


def health(d: Daemon, name: str) -> dict[str, Any]:
    return json.loads(ok(d.docker("inspect", "-f", "{{json .State.Health}}", name)))  # type: ignore[no-any-return]


def test_health_follows_the_probe(berthd: Daemon) -> None:
    events = subprocess.Popen([DOCKER, "events", "--filter", "event=health_status", "--format",
                               "{{.Action}}"], env=berthd.env(), stdout=subprocess.PIPE, text=True)
    ok(berthd.docker("run", "-d", "--name", "probed", "--health-cmd", "cat /ready", "--health-interval", "100ms",
                     "--health-retries", "2", "busybox", "sleep", "1000"))
    try:
        assert health(berthd, "probed")["Status"] == "starting"
        assert "(health: starting)" in ok(berthd.docker("ps", "--filter", "name=probed", "--format", "{{.Status}}"))
        assert eventually(lambda: health(berthd, "probed")["Status"] == "unhealthy")
        failed = health(berthd, "probed")
        assert failed["FailingStreak"] >= 2
        assert failed["Log"][-1]["ExitCode"] == 1
        assert "No such file or directory" in failed["Log"][-1]["Output"]
        ok(berthd.docker("exec", "probed", "sh", "-c", "echo fine > /ready"))
        assert eventually(lambda: health(berthd, "probed")["Status"] == "healthy")
        good = health(berthd, "probed")
        assert (good["FailingStreak"], good["Log"][-1]["ExitCode"], good["Log"][-1]["Output"]) == (0, 0, "fine\n")
        assert len(good["Log"]) <= 5
        assert ok(berthd.docker("ps", "--filter", "health=healthy", "--format", "{{.Names}}")).split() == ["probed"]
        assert "(healthy)" in ok(berthd.docker("ps", "--filter", "name=probed", "--format", "{{.Status}}"))
    finally:
        berthd.docker("rm", "-f", "probed")
        events.terminate()
    seen = events.communicate(timeout=10)[0].split("\n")
    assert "health_status: unhealthy" in seen
    assert "health_status: healthy" in seen


def test_a_probe_past_its_timeout_fails_and_is_killed(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "slow-probe", "--health-cmd", "sleep 30", "--health-interval",
                     "100ms", "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "1000"))
    try:
        assert eventually(lambda: health(berthd, "slow-probe")["Status"] == "unhealthy")
        last = health(berthd, "slow-probe")["Log"][-1]
        assert (last["ExitCode"], last["Output"]) == (-1, "Health check exceeded timeout (300ms)")
        ok(berthd.docker("update", "--pids-limit", "100", "slow-probe"))  # the container is still usable
        ps = ok(berthd.docker("exec", "slow-probe", "ps", "-o", "args"))
        assert ps.count("sleep 30") <= 1  # killed probes do not pile up (the one running now may show)
    finally:
        berthd.docker("rm", "-f", "slow-probe")


def test_no_healthcheck_and_bad_values(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "unprobed", "busybox", "sleep", "1000"))
    try:
        assert ok(berthd.docker("inspect", "-f", "{{json .State.Health}}", "unprobed")).strip() == "null"
        assert ok(berthd.docker("ps", "--filter", "health=none", "--format", "{{.Names}}")).split() == ["unprobed"]
    finally:
        berthd.docker("rm", "-f", "unprobed")
    res = berthd.docker("ps", "--filter", "health=great")
    assert res.stderr.decode().strip() == "Error response from daemon: Unrecognised filter value for health: great"
