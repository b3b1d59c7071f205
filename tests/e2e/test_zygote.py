"""Shims are forked from the daemon's preloaded zygote; without a zygote the daemon starts them directly."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from tests.daemon_harness import Daemon, ok, running_daemon

pytestmark = pytest.mark.e2e


@pytest.fixture
def daemon(busybox_tar: bytes) -> Iterator[Daemon]:
    with running_daemon() as d:
        d.import_busybox(busybox_tar)
        yield d


def _zygote_pid(d: Daemon, not_pid: int = 0) -> int:
    deadline = time.monotonic() + 20
    path = os.path.join(d.exec_root, "zygote.pid")
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.exists(os.path.join(d.exec_root, "zygote.sock")):
            with open(path) as f:
                pid = int(f.read().split()[0])
            if pid != not_pid:
                return pid
        time.sleep(0.05)
    raise AssertionError("the zygote never served")


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def _shims_of(d: Daemon) -> dict[int, tuple[bytes, int]]:
    """pid -> (comm, ppid) of this daemon's shims."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index(b"(") + 1 : stat.rindex(b")")]
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        if d.base.encode() in cmd and (comm == b"berth-shim" or b"berth.shim" in cmd):
            out[int(entry)] = (comm, ppid)
    return out


def _spares_of(d: Daemon) -> dict[int, int]:
    """pid -> ppid of this daemon's spare shims: zygote children that wait for the next request."""
    out = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except (OSError, ValueError):
            continue
        comm = stat[stat.index(b"(") + 1 : stat.rindex(b")")]
        fields = stat.rsplit(b")", 1)[1].split()
        if comm == b"berth-spare" and d.base.encode() in cmd and fields[0] != b"Z":
            out[int(entry)] = int(fields[1])
    return out


def _settled(probe: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 5
    while not probe():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_spare_waits_for_each_request_and_becomes_its_shim(daemon: Daemon) -> None:
    zpid = _zygote_pid(daemon)
    assert _settled(lambda: list(_spares_of(daemon).values()) == [zpid])
    (spare,) = _spares_of(daemon)
    cid = ok(daemon.docker("run", "-d", "busybox", "sleep", "1000")).strip()
    try:
        assert list(_shims_of(daemon)) == [spare]  # the spare took the request: it is the shim now
        assert _settled(lambda: len(_spares_of(daemon)) == 1 and spare not in _spares_of(daemon))
        assert list(_spares_of(daemon).values()) == [zpid]  # and the zygote forked the next one
    finally:
        ok(daemon.docker("rm", "-f", cid))


def test_shims_come_from_the_zygote_and_survive_it(daemon: Daemon) -> None:
    zpid = _zygote_pid(daemon)
    cid = ok(daemon.docker("run", "-d", "busybox", "sleep", "1000")).strip()
    shims = _shims_of(daemon)
    assert len(shims) == 1
    (comm, ppid), = shims.values()
    assert comm == b"berth-shim"
    (shim_pid,) = shims
    assert ppid == zpid  # the zygote's own child (the kernel reaps it), in a session of its own
    assert os.getsid(shim_pid) == shim_pid

    os.kill(zpid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _shims_of(daemon)[shim_pid][1] == zpid and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _shims_of(daemon)[shim_pid][1] != zpid  # passed on to init (or a subreaper), alive
    assert _settled(lambda: not _spares_of(daemon))  # the spare waiting for a request died with the zygote
    # the container's shim lives on, and new containers still start (the daemon launches shims directly)
    assert ok(daemon.docker("exec", cid, "echo", "still")).strip() == "still"
    assert ok(daemon.docker("run", "--rm", "busybox", "echo", "direct")).strip() == "direct"
    ok(daemon.docker("rm", "-f", cid))
    assert _shims_of(daemon) == {}


def _mergeable_mappings(pid: int) -> int:
    with open(f"/proc/{pid}/smaps") as f:
        return sum("mg" in line.split()[1:] for line in f if line.startswith("VmFlags:"))


def test_shims_memory_is_mergeable_and_the_containers_is_not(daemon: Daemon) -> None:
    """Where the host runs ksmd, the pages every shim copies from the zygote are merged again; a container's
    processes never take part (a container must not share pages with anything it did not ask to)."""
    cid = ok(daemon.docker("run", "-d", "busybox", "sleep", "1000")).strip()
    try:
        (shim_pid,) = _shims_of(daemon)
        init_pid = int(ok(daemon.docker("inspect", "-f", "{{.State.Pid}}", cid)))
        ok(daemon.docker("exec", "-d", cid, "sleep", "1000"))
        exec_pids = [int(p) for p in ok(daemon.docker("top", cid, "-o", "pid")).split()[1:]]
        assert len(exec_pids) == 2
        assert init_pid in exec_pids
        assert _mergeable_mappings(shim_pid) >= 3
        for pid in exec_pids:
            assert _mergeable_mappings(pid) == 0
    finally:
        ok(daemon.docker("rm", "-f", cid))


def test_a_daemon_restart_replaces_the_zygote(daemon: Daemon) -> None:
    first = _zygote_pid(daemon)
    daemon.kill9()
    daemon.start()
    _zygote_pid(daemon, not_pid=first)
    assert _gone(first)  # the stale zygote was stopped
    assert ok(daemon.docker("run", "--rm", "busybox", "echo", "hi")).strip() == "hi"


def test_a_stuck_zygote_is_replaced_and_the_container_starts_once(daemon: Daemon) -> None:
    """A zygote that takes a request but never answers is replaced; the container starts with one shim."""
    zpid = _zygote_pid(daemon)
    os.killpg(zpid, signal.SIGSTOP)  # it and its spare: the request waits in the backlog, never answered
    try:
        res = daemon.docker("run", "-d", "busybox", "sleep", "1000", timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(zpid, signal.SIGCONT)
    assert _gone(zpid)
    _zygote_pid(daemon, not_pid=zpid)
    assert res.returncode == 0, res.stderr
    cid = res.stdout.decode().strip()
    try:
        assert len(_shims_of(daemon)) == 1
        assert ok(daemon.docker("exec", cid, "echo", "one")).strip() == "one"
    finally:
        ok(daemon.docker("rm", "-f", cid))
