"""The berth CLI carries the security flags as docker's does, and shows the daemon's refusals."""

from __future__ import annotations

import pytest

from tests.daemon_harness import Daemon

pytestmark = pytest.mark.e2e


def test_security_flags(berthd: Daemon) -> None:
    script = ("grep CapBnd /proc/self/status; cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj;"
              "ulimit -n; ulimit -Hn; id -u; grep Groups /proc/self/status; touch /x 2>&1; touch /run/y && echo run-ok;"
              "ls -l /dev/disk0; (echo > /dev/disk0) 2>&1; true")
    res = berthd.berth("run", "--rm", "--cap-add", "net_admin", "--cap-drop", "mknod", "--device",
                       "/dev/loop0:/dev/disk0:r", "--sysctl", "net.ipv4.ip_forward=1", "--oom-score-adj", "300",
                       "--read-only", "--tmpfs", "/run", "--user", "1000", "--group-add", "5", "--ulimit",
                       "nofile=100:200", "busybox", "sh", "-c", script)
    assert res.returncode == 0, res.stderr.decode()
    out = res.stdout.decode()
    lines = out.splitlines()
    assert int(lines[0].split()[1], 16) == (0xA80425FB | 1 << 12) & ~(1 << 27)
    assert lines[1:6] == ["1", "300", "100", "200", "1000"]
    assert "5" in lines[6].split()[1:]
    assert "touch: /x: Read-only file system" in out
    assert "run-ok" in out
    assert "/dev/disk0" in out
    assert "can't create /dev/disk0: Permission denied" in out  # user 1000 vs the node's 0600


def test_device_with_permissions_only(berthd: Daemon) -> None:
    res = berthd.berth("run", "--rm", "--device", "/dev/loop0:r", "busybox", "sh", "-c",
                       "cat /dev/loop0 >/dev/null && echo read-ok; (echo > /dev/loop0) 2>&1; true")
    assert res.returncode == 0, res.stderr.decode()
    assert "read-ok" in res.stdout.decode()
    assert "Operation not permitted" in res.stdout.decode()


def test_refusals(berthd: Daemon) -> None:
    res = berthd.berth("run", "--rm", "--cap-add", "foo", "busybox", "true")
    assert res.returncode == 125
    assert 'invalid CapAdd: unknown capability: "CAP_FOO"' in res.stderr.decode()
    res = berthd.berth("run", "--rm", "--sysctl", "kernel.panic=1", "busybox", "true")
    assert res.returncode == 125
    assert "sysctl 'kernel.panic' is not allowed" in res.stderr.decode()
