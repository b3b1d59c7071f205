"""docker pause / unpause: the container's processes freeze and thaw; stop, kill and rm -f still work."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.daemon_harness import Daemon, ok, running_daemon

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def daemon(busybox_tar: bytes) -> Iterator[Daemon]:
    with running_daemon() as d:
        d.import_busybox(busybox_tar)
        yield d


def _state(daemon: Daemon, cid: str) -> str:
    pid = json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]["Pid"]
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _log_lines(daemon: Daemon, cid: str) -> int:
    return len(ok(daemon.docker("logs", cid)).splitlines())


def test_pause_freezes_and_unpause_thaws(daemon: Daemon) -> None:
    cid = ok(daemon.docker("run", "-d", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.05; done")).strip()
    try:
        ok(daemon.docker("pause", cid))
        info = json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]
        assert (info["Status"], info["Paused"], info["Running"]) == ("paused", True, True)
        assert "(Paused)" in ok(daemon.docker("ps", "--format", "{{.Status}}", "--filter", f"id={cid}"))
        time.sleep(0.3)
        frozen = _log_lines(daemon, cid)
        time.sleep(0.5)
        assert _log_lines(daemon, cid) == frozen  # nothing runs while paused
        res = daemon.docker("exec", cid, "true")
        assert res.returncode != 0
        assert b"is paused, unpause the container before exec" in res.stderr
        res = daemon.docker("pause", cid)
        assert b"is already paused" in res.stderr
        res = daemon.docker("rm", cid)
        assert b"container is paused and must be unpaused first" in res.stderr

        ok(daemon.docker("unpause", cid))
        time.sleep(0.5)
        assert _log_lines(daemon, cid) > frozen
        assert _state(daemon, cid) in ("S", "R")
        res = daemon.docker("unpause", cid)
        assert b"is not paused" in res.stderr
    finally:
        ok(daemon.docker("rm", "-f", cid))


def test_a_paused_container_can_be_stopped_killed_and_removed(daemon: Daemon) -> None:
    ids = [ok(daemon.docker("run", "-d", "busybox", "sleep", "1000")).strip() for _ in range(3)]
    for cid in ids:
        ok(daemon.docker("pause", cid))
    ok(daemon.docker("stop", "-t", "1", ids[0]))
    ok(daemon.docker("kill", ids[1]))
    ok(daemon.docker("rm", "-f", ids[2]))
    for cid in ids[:2]:
        state = json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]
        assert (state["Status"], state["Paused"]) == ("exited", False)
        ok(daemon.docker("rm", cid))
    assert daemon.docker("inspect", ids[2]).returncode != 0


def test_pause_survives_a_daemon_restart(daemon: Daemon) -> None:
    cid = ok(daemon.docker("run", "-d", "busybox", "sleep", "1000")).strip()
    try:
        ok(daemon.docker("pause", cid))
        daemon.kill9()
        daemon.start()
        assert json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]["Status"] == "paused"
        ok(daemon.docker("unpause", cid))
        assert ok(daemon.docker("exec", cid, "echo", "alive")).strip() == "alive"
    finally:
        ok(daemon.docker("rm", "-f", cid))
