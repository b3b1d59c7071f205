"""`docker update` against berthd: new limits reach a running container's cgroup and stay with the container."""

from __future__ import annotations

import json

import pytest

from tests.daemon_harness import Daemon, ok

pytestmark = pytest.mark.e2e

LIMITS = ("m=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max);"
          "p=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max);"
          "q=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max);"
          'echo "$m $p $q"')


def limits(d: Daemon, name: str) -> list[str]:
    return ok(d.docker("exec", name, "sh", "-c", LIMITS)).split()


def test_update_changes_a_running_containers_limits(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "upd", "-m", "64m", "--pids-limit", "20", "busybox", "sleep", "1000"))
    try:
        assert limits(berthd, "upd")[:2] == [str(64 << 20), "20"]
        assert ok(berthd.docker("update", "-m", "128m", "--memory-swap", "256m", "--pids-limit", "50", "--cpus",
                                "0.5", "--restart", "on-failure:3", "upd")) == "upd\n"
        assert limits(berthd, "upd") == [str(128 << 20), "50", "50000"]
        hc = json.loads(ok(berthd.docker("inspect", "-f", "{{json .HostConfig}}", "upd")))
        assert (hc["Memory"], hc["MemorySwap"], hc["PidsLimit"], hc["NanoCpus"]) == (128 << 20, 256 << 20, 50,
                                                                                     500_000_000)
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        ok(berthd.docker("update", "--pids-limit", "-1", "upd"))
        assert limits(berthd, "upd")[1] == "max"
    finally:
        berthd.docker("rm", "-f", "upd")


def test_update_of_a_stopped_container_applies_at_its_next_start(berthd: Daemon) -> None:
    ok(berthd.docker("create", "--name", "upd-later", "busybox", "sleep", "1000"))
    try:
        ok(berthd.docker("update", "-m", "96m", "upd-later"))
        ok(berthd.docker("start", "upd-later"))
        assert limits(berthd, "upd-later")[0] == str(96 << 20)
    finally:
        berthd.docker("rm", "-f", "upd-later")


def test_update_refuses_as_dockerd(berthd: Daemon) -> None:
    cid = ok(berthd.docker("run", "-d", "--name", "upd-bad", "-m", "64m", "--memory-swap", "128m", "--cpus", "1",
                           "busybox", "sleep", "1000")).strip()
    try:
        for flags, text in (
                (["-m", "1k"], "Minimum memory limit allowed is 6MB"),
                (["-m", "512m"], f"Cannot update container {cid}: Memory limit should be smaller than already set "
                                 "memoryswap limit, update the memoryswap at the same time"),
                (["--cpu-period", "100000"], f"Cannot update container {cid}: Conflicting options: CPU Period "
                                             "cannot be updated as NanoCPUs has already been set"),
                (["--restart", "always:3"], "invalid restart policy: maximum retry count can only be used with "
                                            "'on-failure'")):
            res = berthd.docker("update", *flags, "upd-bad")
            assert res.returncode == 1
            assert res.stderr.decode().splitlines()[0] == f"Error response from daemon: {text}"
        assert limits(berthd, "upd-bad")[0] == str(64 << 20)  # nothing changed
        res = berthd.docker("update", "--restart", "always", "no-such-container")
        assert res.stderr.decode().splitlines()[0] == "Error response from daemon: No such container: no-such-container"
    finally:
        berthd.docker("rm", "-f", "upd-bad")


def test_berth_update_speaks_the_same(berthd: Daemon) -> None:
    ok(berthd.berth("run", "-d", "--name", "upd-berth", "busybox", "sleep", "1000"))
    try:
        assert ok(berthd.berth("update", "--memory", "80m", "--pids-limit", "30", "--cpus", "1.5",
                               "upd-berth")) == "upd-berth\n"
        assert limits(berthd, "upd-berth") == [str(80 << 20), "30", "150000"]
        res = berthd.berth("update", "--cpus", "many", "upd-berth")
        assert (res.returncode, res.stderr.decode().splitlines()[0]) == (
            125, 'invalid argument "many" for "--cpus" flag: failed to parse many as a rational number')
        res = berthd.berth("update", "-m", "1k", "upd-berth", "no-such-container")
        assert res.returncode == 1
        assert res.stderr.decode().splitlines() == ["Error response from daemon: Minimum memory limit allowed is 6MB",
                                                    "Error response from daemon: Minimum memory limit allowed is 6MB"]
    finally:
        berthd.berth("rm", "-f", "upd-berth")
