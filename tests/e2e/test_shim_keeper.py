"""An idle container's shim worker hands the container to its keeper and exits; work brings a new worker, which
picks the container up where the old one left it (berth.shim.keeper)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.daemon_harness import DOCKER, Daemon, eventually, ok, running_daemon

pytestmark = pytest.mark.e2e

IDLE = "0.3"


@pytest.fixture(scope="module")
def daemon(busybox_tar: bytes) -> Iterator[Daemon]:
    with running_daemon(extra_args=["--shim-idle-after", IDLE]) as d:
        d.import_busybox(busybox_tar)
        yield d


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _keeper(d: Daemon, cid: str) -> int:
    """The container's keeper: the berth-shim that is its init's parent or its worker's."""
    init = json.loads(ok(d.docker("inspect", cid)))[0]["State"]["Pid"]
    with open(f"/proc/{init}/status") as f:
        parent = next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
    if _comm(parent) == "berth-shim-w":
        with open(f"/proc/{parent}/status") as f:
            parent = next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
    assert _comm(parent) == "berth-shim"
    return parent


def _worker_gone(keeper: int) -> bool:
    return eventually(lambda: not [p for p in _children(keeper) if _comm(p) == "berth-shim-w"], timeout=10)


def _private_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Private_Dirty:"))


def test_an_idle_containers_worker_leaves_and_everything_still_works(daemon: Daemon) -> None:
    cid = ok(daemon.docker("run", "-d", "-i", "busybox", "sh", "-c",
                           "echo first; read line; echo got $line; sleep 1000")).strip()
    try:
        keeper = _keeper(daemon, cid)
        assert _worker_gone(keeper)
        # output while no worker runs wakes the keeper: a worker logs it
        attach = subprocess.Popen([DOCKER, "attach", "--sig-proxy=false", cid],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=daemon.env())
        try:
            assert eventually(lambda: bool([p for p in _children(keeper) if _comm(p) == "berth-shim-w"]))
            time.sleep(0.2)
            assert attach.stdin is not None
            attach.stdin.write(b"hello\n")
            attach.stdin.flush()
            assert eventually(lambda: "got hello" in ok(daemon.docker("logs", cid)))
        finally:
            attach.kill()
            attach.wait()
        assert _worker_gone(keeper)
        # an exec brings a worker; its exit code is still known after that worker has gone
        exec_id = json.loads(_api(daemon, "POST", f"/containers/{cid}/exec",
                                  {"Cmd": ["sh", "-c", "exit 7"]}))["Id"]
        _api(daemon, "POST", f"/exec/{exec_id}/start", {"Detach": True})
        assert eventually(lambda: json.loads(_api(daemon, "GET", f"/exec/{exec_id}/json"))["ExitCode"] == 7)
        assert _worker_gone(keeper)
        assert json.loads(_api(daemon, "GET", f"/exec/{exec_id}/json"))["ExitCode"] == 7
        assert ok(daemon.docker("exec", cid, "echo", "in")).strip() == "in"
        assert _worker_gone(keeper)
        ok(daemon.docker("pause", cid))
        ok(daemon.docker("unpause", cid))
        assert _worker_gone(keeper)
        # the daemon's wait, handed over with the rest, learns the exit while no worker runs
        ok(daemon.docker("kill", "-s", "KILL", cid))
        assert ok(daemon.docker("wait", cid)).strip() == "137"
        state = json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 137)
        assert eventually(lambda: not os.path.exists(f"/proc/{keeper}"))
    finally:
        daemon.docker("rm", "-f", cid)


def test_an_init_that_exits_while_no_worker_runs_is_reaped_and_recorded(daemon: Daemon) -> None:
    cid = ok(daemon.docker("run", "-d", "busybox", "sh", "-c", "sleep 2; echo bye; exit 5")).strip()
    try:
        keeper = _keeper(daemon, cid)
        assert _worker_gone(keeper)
        assert ok(daemon.docker("wait", cid)).strip() == "5"
        assert ok(daemon.docker("logs", cid)).strip() == "bye"
        assert eventually(lambda: not os.path.exists(f"/proc/{keeper}"))
    finally:
        daemon.docker("rm", "-f", cid)


def test_a_keeper_holds_less_than_a_worker(daemon: Daemon) -> None:
    cid = ok(daemon.docker("run", "-d", "busybox", "sleep", "1000")).strip()
    try:
        keeper = _keeper(daemon, cid)
        [worker] = [p for p in _children(keeper) if _comm(p) == "berth-shim-w"] or [0]
        worker_private = _private_kib(worker) if worker else 0
        assert _worker_gone(keeper)
        assert _private_kib(keeper) < max(worker_private, 1500)
        assert ok(daemon.docker("exec", cid, "echo", "ok")).strip() == "ok"
    finally:
        ok(daemon.docker("rm", "-f", cid))


def test_a_daemon_restart_finds_shims_whose_workers_left(daemon: Daemon) -> None:
    cid = ok(daemon.docker("run", "-d", "busybox", "sh", "-c", "sleep 1000")).strip()
    try:
        assert _worker_gone(_keeper(daemon, cid))
        daemon.kill9()
        daemon.start()
        assert ok(daemon.docker("exec", cid, "echo", "back")).strip() == "back"
        ok(daemon.docker("stop", "-t", "1", cid))
        assert json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]["ExitCode"] == 137
    finally:
        daemon.docker("rm", "-f", cid)


def _api(d: Daemon, method: str, path: str, body: object | None = None) -> str:
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(d.host.removeprefix("unix://"))

    conn = Conn("localhost")
    conn.request(method, f"/v1.44{path}", body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"})
    data = conn.getresponse().read().decode()
    conn.close()
    return data


def test_a_worker_that_leaves_takes_its_exec_spare_along(daemon: Daemon) -> None:
    cid = ok(daemon.docker("run", "-d", "busybox", "sleep", "1000")).strip()
    try:
        keeper = _keeper(daemon, cid)
        for _ in range(2):  # execs in a row: the worker forks a spare for the next one (berth-exec)
            ok(daemon.docker("exec", cid, "true"))

        def spares() -> list[int]:
            return [s for w in _children(keeper) for s in _children(w) if _comm(s) == "berth-exec"]

        assert eventually(lambda: bool(spares()), 10)
        spare = spares()[0]
        assert _worker_gone(keeper)
        assert not os.path.exists(f"/proc/{spare}")
        assert not [p for p in _children(keeper) if _comm(p) == "berth-exec"]  # not left to the keeper either
        res = daemon.docker("exec", "-i", cid, "sh", "-c", "cat; exit 3", input=b"through a new worker\n")
        assert (res.returncode, res.stdout) == (3, b"through a new worker\n")
    finally:
        ok(daemon.docker("rm", "-f", cid))
