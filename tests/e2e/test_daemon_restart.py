"""kill -9 of berthd: running containers keep running and stay manageable; exits meanwhile are recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.daemon_harness import Daemon, eventually, mounts_under, ok, process_alive, running_daemon

pytestmark = pytest.mark.e2e


@pytest.fixture
def daemon(busybox_tar: bytes) -> Iterator[Daemon]:
    with running_daemon() as d:
        d.import_busybox(busybox_tar)
        yield d


def test_containers_survive_kill_9_of_the_daemon(daemon: Daemon) -> None:
    ok(daemon.docker("run", "-d", "--name", "survivor", "busybox", "sh", "-c",
                     "i=0; while true; do echo beat$i; i=$((i+1)); sleep 0.2; done"))
    ok(daemon.docker("run", "-d", "--name", "quitter", "busybox", "sh", "-c", "sleep 1; exit 42"))
    pid_before = json.loads(ok(daemon.docker("inspect", "survivor")))[0]["State"]["Pid"]

    daemon.kill9()
    time.sleep(1.6)  # the quitter exits while no daemon runs
    daemon.start()

    st = json.loads(ok(daemon.docker("inspect", "survivor")))[0]["State"]
    assert st["Running"] is True
    assert st["Pid"] == pid_before
    assert "survivor" in ok(daemon.docker("ps", "--format", "{{.Names}}"))
    quitter = json.loads(ok(daemon.docker("inspect", "quitter")))[0]["State"]
    assert quitter["Status"] == "exited"
    assert quitter["ExitCode"] == 42
    time.sleep(0.5)
    logs = ok(daemon.docker("logs", "survivor")).split()
    assert len(logs) >= 8  # logging went on while the daemon was away
    assert ok(daemon.docker("exec", "survivor", "echo", "still here")) == "still here\n"
    ok(daemon.docker("stop", "-t", "1", "survivor"))
    assert json.loads(ok(daemon.docker("inspect", "survivor")))[0]["State"]["Status"] == "exited"
    ok(daemon.docker("rm", "survivor", "quitter"))
    assert mounts_under(daemon.data_root) == []


def test_a_removal_cut_short_by_kill_9_is_finished_at_restart(daemon: Daemon) -> None:
    import os

    cid = ok(daemon.docker("create", "busybox", "true")).strip()
    snapshots = os.path.join(daemon.data_root, "snapshots")
    layers_before = set(os.listdir(snapshots))
    ok(daemon.docker("run", "--rm", "busybox", "true"))  # its writable layer goes in the background
    daemon.kill9()
    # what a daemon killed between discarding the record and deleting the rest leaves behind
    containers = os.path.join(daemon.data_root, "containers")
    os.rename(os.path.join(containers, cid), os.path.join(containers, f".removed-{cid}"))
    daemon.start()
    assert cid not in ok(daemon.docker("ps", "-aq", "--no-trunc"))
    assert eventually(lambda: not [n for n in os.listdir(containers) if n.startswith(".removed-")])
    # the writable layer of the half-removed container is released too; the image's layers stay
    assert eventually(lambda: set(os.listdir(snapshots)) < layers_before)
    assert ok(daemon.docker("run", "--rm", "busybox", "echo", "fine")).strip() == "fine"


def test_an_exited_autoremove_container_is_removed_at_restart(daemon: Daemon) -> None:
    ok(daemon.docker("run", "-d", "--rm", "--name", "brief", "busybox", "sh", "-c", "sleep 1"))
    daemon.kill9()
    time.sleep(1.5)  # it exits while no daemon runs
    daemon.start()
    assert eventually(lambda: daemon.docker("inspect", "brief").returncode != 0)


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("PPid:"))


@pytest.mark.parametrize("daemon_down", [False, True], ids=["daemon-up", "daemon-down"])
def test_a_killed_shim_takes_its_container_down_and_leaves_nothing(daemon: Daemon, daemon_down: bool) -> None:
    """kill -9 of a container's shim (while berthd runs, or while it is down): the container is shown
    exited with 255, as dockerd shows a container whose shim died, and none of its processes or its
    cgroup outlive the shim."""
    import os
    import signal

    cid = ok(daemon.docker("run", "-d", "busybox", "sh", "-c", "sleep 1000 & sleep 1000")).strip()
    init = json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]["Pid"]
    shim = _parent_of(init)
    if _comm(shim) == "berth-shim-w":  # the keeper's worker (berth.shim.keeper): the shim is the keeper
        shim = _parent_of(shim)
    assert _comm(shim) == "berth-shim"
    with open(f"/proc/{init}/cgroup") as f:
        cgroup = next(line.split(":", 2)[2].strip() for line in f if line.split(":")[1] == "pids")
    if daemon_down:
        daemon.kill9()
    os.kill(shim, signal.SIGKILL)
    if daemon_down:
        daemon.start()
    assert eventually(lambda: json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]["Status"] == "exited")
    assert json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]["ExitCode"] == 255
    assert eventually(lambda: not process_alive(init))
    procs = f"/sys/fs/cgroup/pids{cgroup}/cgroup.procs"
    if os.path.exists(procs):
        with open(procs) as f:
            assert f.read() == ""
    ok(daemon.docker("rm", cid))
    assert mounts_under(daemon.data_root) == []
    assert not os.path.exists(f"/sys/fs/cgroup/pids{cgroup}")
