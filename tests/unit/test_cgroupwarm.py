"""Which cgroup.procs the migration primer writes to: ours, on the hierarchy that shows it."""

from __future__ import annotations

from berth.kernel.cgroupwarm import MigrationPrimer
from berth.kernel.features import CgroupMount, own_procs_file

HYBRID = [
    CgroupMount("/sys/fs/cgroup/cpu,cpuacct", "/", 1, ("cpu", "cpuacct")),
    CgroupMount("/sys/fs/cgroup/systemd", "/", 1, ("name=systemd",)),
    CgroupMount("/sys/fs/cgroup/unified", "/", 2, ()),
]
PROC = "12:pids:/x\n4:cpu,cpuacct:/svc/berthd\n1:name=systemd:/svc/berthd\n0::/svc/berthd.service\n"


def test_cgroup2_is_preferred() -> None:
    assert own_procs_file(PROC, HYBRID) == "/sys/fs/cgroup/unified/svc/berthd.service/cgroup.procs"


def test_v1_only_matches_the_controller_set() -> None:
    v1 = [m for m in HYBRID if m.version == 1]
    assert own_procs_file(PROC, v1) == "/sys/fs/cgroup/cpu,cpuacct/svc/berthd/cgroup.procs"


def test_mount_roots_are_taken_off_and_foreign_roots_skipped() -> None:
    inner = [CgroupMount("/sys/fs/cgroup", "/svc", 2, ())]
    assert own_procs_file("0::/svc/berthd.service\n", inner) == "/sys/fs/cgroup/berthd.service/cgroup.procs"
    assert own_procs_file("0::/elsewhere\n", inner) is None


def test_the_root_cgroup_and_no_cgroups() -> None:
    assert own_procs_file("0::/\n", HYBRID) == "/sys/fs/cgroup/unified/cgroup.procs"
    assert own_procs_file("", HYBRID) is None
    assert own_procs_file(PROC, []) is None


def test_without_a_file_priming_does_nothing() -> None:
    primer = MigrationPrimer(None)
    primer.prime()
    assert primer.primed == 0
    assert primer._thread is None
