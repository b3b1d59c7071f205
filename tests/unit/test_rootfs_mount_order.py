"""The runtime puts off the cgroup mounts (made while its parent creates the cgroups) only when that changes
nothing the container sees."""

from __future__ import annotations

from typing import Any

from berth.runtime.rootfs import _split_cgroup_mounts


def m(dest: str, kind: str = "tmpfs") -> dict[str, Any]:
    return {"destination": dest, "type": kind}


def test_cgroup_mounts_and_what_lies_beneath_them_come_last() -> None:
    mounts = [m("/proc", "proc"), m("/sys", "sysfs"), m("/sys/fs/cgroup", "cgroup"), m("/dev/mqueue", "mqueue"),
              m("/sys/fs/cgroup/extra"), m("/etc/hosts", "bind")]
    now, later = _split_cgroup_mounts(mounts)
    assert [x["destination"] for x in now] == ["/proc", "/sys", "/dev/mqueue", "/etc/hosts"]
    assert [x["destination"] for x in later] == ["/sys/fs/cgroup", "/sys/fs/cgroup/extra"]


def test_nothing_is_put_off_when_a_later_mount_covers_the_cgroups() -> None:
    mounts = [m("/sys/fs/cgroup", "cgroup"), m("/sys", "bind"), m("/tmp")]
    assert _split_cgroup_mounts(mounts) == (mounts, [])
    mounts = [m("/sys/fs/cgroup", "cgroup"), m("/sys/fs/cgroup", "bind")]
    now, later = _split_cgroup_mounts(mounts)
    assert later == mounts  # the covering bind stays after the cgroup mount
    assert now == []
