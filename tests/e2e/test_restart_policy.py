"""Restart policies as dockerd's: containers come back after they exit (with a growing delay) unless a user
stopped them, and at the daemon's start as each policy says."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.daemon_harness import Daemon, eventually, ok, running_daemon

pytestmark = pytest.mark.e2e


def state(d: Daemon, name: str) -> dict[str, Any]:
    doc = json.loads(ok(d.docker("inspect", name)))[0]
    return {**doc["State"], "RestartCount": doc["RestartCount"]}


def test_on_failure_retries_as_many_times_as_asked(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c",
                     "echo attempt; exit 3"))
    try:
        assert eventually(lambda: state(berthd, "flaky")["RestartCount"] == 2
                          and state(berthd, "flaky")["Status"] == "exited")
        st = state(berthd, "flaky")
        assert (st["ExitCode"], st["Restarting"]) == (3, False)
        assert ok(berthd.docker("logs", "flaky")) == "attempt\n" * 3
        ok(berthd.docker("run", "--name", "fine", "--restart", "on-failure", "busybox", "true"))
        assert state(berthd, "fine")["RestartCount"] == 0  # a clean exit is not a failure
    finally:
        berthd.docker("rm", "-f", "flaky", "fine")


def test_always_restarts_until_a_user_stops_it(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c",
                     "echo up; exit 0"))
    try:
        assert eventually(lambda: state(berthd, "phoenix")["RestartCount"] >= 2)
        seen = ok(berthd.docker("ps", "-a", "--filter", "name=phoenix", "--format", "{{.Status}}"))
        assert seen.startswith(("Up", "Restarting (0)"))
        assert berthd.docker("rm", "phoenix").returncode == 1  # running or restarting: not without -f
        ok(berthd.docker("stop", "-t", "1", "phoenix"))
        count = state(berthd, "phoenix")["RestartCount"]
        time.sleep(1.0)  # longer than the policy's next delays: a restart would have come by now
        st = state(berthd, "phoenix")
        assert (st["Status"], st["Restarting"], st["RestartCount"]) == ("exited", False, count)
        ok(berthd.docker("start", "phoenix"))  # a user's start brings the policy back
        assert eventually(lambda: state(berthd, "phoenix")["RestartCount"] > count)
    finally:
        berthd.docker("rm", "-f", "phoenix")
    assert berthd.docker("inspect", "phoenix").returncode == 1


def test_kill_ends_an_unless_stopped_container(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "killed", "--restart", "unless-stopped", "busybox", "sleep", "1000"))
    try:
        ok(berthd.docker("kill", "killed"))
        time.sleep(0.5)
        st = state(berthd, "killed")
        assert (st["Status"], st["ExitCode"], st["RestartCount"]) == ("exited", 137, 0)
    finally:
        berthd.docker("rm", "-f", "killed")


def test_update_sets_the_policy_of_a_running_container(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "late-policy", "busybox", "sh", "-c", "sleep 0.5; exit 1"))
    try:
        ok(berthd.docker("update", "--restart", "on-failure:1", "late-policy"))
        assert eventually(lambda: state(berthd, "late-policy")["RestartCount"] == 1
                          and state(berthd, "late-policy")["Status"] == "exited")
    finally:
        berthd.docker("rm", "-f", "late-policy")


@pytest.fixture
def daemon(busybox_tar: bytes) -> Iterator[Daemon]:
    with running_daemon() as d:
        d.import_busybox(busybox_tar)
        yield d


def test_the_daemons_start_follows_each_policy(daemon: Daemon) -> None:
    for name, policy in (("always-stopped", "always"), ("unless-stopped-stopped", "unless-stopped"),
                         ("never", "no")):
        ok(daemon.docker("run", "-d", "--name", name, "--restart", policy, "busybox", "sleep", "1000"))
        ok(daemon.docker("stop", "-t", "0", name))
    ok(daemon.docker("run", "-d", "--name", "failed-once", "--restart", "on-failure:5", "busybox", "sh", "-c",
                     "[ -e /again ] && exec sleep 1000; touch /again; sleep 1; exit 1"))
    daemon.kill9()
    time.sleep(1.5)  # failed-once fails while no daemon is there to restart it
    daemon.start()
    assert eventually(lambda: state(daemon, "always-stopped")["Running"])  # always: even after a user's stop
    assert eventually(lambda: state(daemon, "failed-once")["Running"])
    assert state(daemon, "unless-stopped-stopped")["Status"] == "exited"
    assert state(daemon, "never")["Status"] == "exited"
    for name in ("always-stopped", "unless-stopped-stopped", "never", "failed-once"):
        ok(daemon.docker("rm", "-f", name))
