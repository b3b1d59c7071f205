"""The migration window: which cgroup.procs it writes to, when it migrates, when the kernel needs none."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from berth.kernel.cgroupwarm import HOLD, IDLE, QUIET, REPEAT, SLOW, MigrationWindow, kernel_keeps_it_open
from berth.kernel.features import CgroupMount, own_procs_file, parse_mountinfo_cgroups

HYBRID = [
    CgroupMount("/sys/fs/cgroup/cpu,cpuacct", "/", 1, ("cpu", "cpuacct")),
    CgroupMount("/sys/fs/cgroup/systemd", "/", 1, ("name=systemd",)),
    CgroupMount("/sys/fs/cgroup/unified", "/", 2, ()),
]
PROC = "12:pids:/x\n4:cpu,cpuacct:/svc/berthd\n1:name=systemd:/svc/berthd\n0::/svc/berthd.service\n"
MOUNTINFO = (
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 25 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw{opts}\n"
    "32 25 0:28 / /sys/fs/cgroup/pids rw,relatime shared:11 - cgroup cgroup rw,pids{v1opts}\n"
    "40 25 0:30 / /mnt/favordynmods rw - tmpfs favordynmods rw,favordynmods\n"
)


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


def _mounts(opts: str = "", v1opts: str = "") -> list[CgroupMount]:
    return parse_mountinfo_cgroups(MOUNTINFO.format(opts=opts, v1opts=v1opts))


def test_favordynmods_on_a_cgroup_mount_makes_priming_needless() -> None:
    assert kernel_keeps_it_open(_mounts(opts=",favordynmods,nsdelegate"))
    assert kernel_keeps_it_open(_mounts(v1opts=",favordynmods"))
    assert not kernel_keeps_it_open(_mounts(opts=",nsdelegate"))  # nor does a tmpfs with that option count


def test_favordynmods_is_no_controller_of_a_v1_hierarchy() -> None:
    pids = [m for m in _mounts(v1opts=",favordynmods") if m.version == 1]
    assert [m.controllers for m in pids] == [("pids",)]


def _written(path: Path) -> str:
    return path.read_text()


def _clock(step: float) -> Callable[[], float]:
    """A clock by which each migration (two readings) takes `step` seconds."""
    ticks = itertools.count()
    return lambda: next(ticks) * step / 2


def _slow_kernel(procs: Path) -> MigrationWindow:
    """A window on a kernel whose moves wait for a grace period when none ran lately."""
    return MigrationWindow(str(procs), clock=_clock(10 * SLOW))


def test_a_poke_migrates_at_once_then_every_repeat_until_hold_has_passed(tmp_path: Path) -> None:
    procs = tmp_path / "cgroup.procs"
    procs.write_text("")
    window = _slow_kernel(procs)
    assert window.timeout(0.0) is None  # closed: nothing to wait for
    window.poke(10.0)
    assert window.timeout(10.0) == 0.0
    window.run_due(10.0)
    assert window.primed == 1
    assert _written(procs) == str(os.getpid())
    assert abs((window.timeout(10.001) or 0.0) - (REPEAT - 0.001)) < 1e-9
    window.run_due(10.001)  # not due yet
    assert window.primed == 1
    t = 10.0
    while t < 10.0 + HOLD:
        t += REPEAT
        window.run_due(t)
    assert window.primed > 2
    assert window.timeout(t) is None  # HOLD passed: closed
    window.poke(20.0)  # a later request opens it again
    window.run_due(20.0)
    assert window.primed > 3


def test_pokes_while_open_extend_the_window_without_extra_migrations(tmp_path: Path) -> None:
    procs = tmp_path / "cgroup.procs"
    procs.write_text("")
    window = _slow_kernel(procs)
    window.poke(0.0)
    window.run_due(0.0)
    window.poke(0.001)
    window.run_due(0.001)
    assert window.primed == 1
    window.poke(HOLD)  # still open at HOLD + 0.01 thanks to this poke
    window.run_due(HOLD + 0.01)
    assert window.primed == 2


def test_a_kernel_whose_moves_do_not_wait_gets_one_move_per_quiet_spell(tmp_path: Path) -> None:
    procs = tmp_path / "cgroup.procs"
    procs.write_text("")
    window = MigrationWindow(str(procs), clock=_clock(SLOW / 20))
    window.poke(10.0)
    window.run_due(10.0)  # the first move after a quiet spell, and it did not wait
    assert window.primed == 1
    assert window.timeout(10.0) is None  # so nothing is held open
    window.poke(10.1)
    assert window.timeout(10.1) is None
    window.poke(10.0 + QUIET + 0.1)  # a while later it looks again
    window.run_due(10.0 + QUIET + 0.1)
    assert window.primed == 2
    assert window.timeout(10.0 + QUIET + 0.1) is None


def test_a_move_that_waited_keeps_the_window_open(tmp_path: Path) -> None:
    procs = tmp_path / "cgroup.procs"
    procs.write_text("")
    steps = iter([0.0, SLOW / 20, 1.0, 1.0 + 10 * SLOW])  # fast once, then a move that waited
    window = MigrationWindow(str(procs), clock=lambda: next(steps))
    window.poke(10.0)
    window.run_due(10.0)
    assert window.timeout(10.0) is None
    window.poke(20.0)
    window.run_due(20.0)
    assert window.timeout(20.0) == pytest.approx(REPEAT)  # the next move is due: the window stays open


def test_a_fast_move_soon_after_another_proves_nothing(tmp_path: Path) -> None:
    procs = tmp_path / "cgroup.procs"
    procs.write_text("")
    window = _slow_kernel(procs)
    window.poke(0.0)
    t = 0.0
    while window.timeout(t) is not None:
        window.run_due(t)
        t += REPEAT
    window.clock = _clock(SLOW / 20)  # the fast path is still open, a grace period after our last move
    reopened = t + (IDLE / 2)
    window.poke(reopened)
    window.run_due(reopened)
    assert window.timeout(reopened) == pytest.approx(REPEAT)  # not taken for a kernel whose moves never wait


def test_a_refused_write_ends_priming(tmp_path: Path) -> None:
    window = MigrationWindow(str(tmp_path / "no-such-dir" / "cgroup.procs"))
    window.poke(0.0)
    window.run_due(0.0)
    assert window.procs_file is None
    assert window.primed == 0
    window.poke(1.0)
    assert window.timeout(1.0) is None


def test_without_a_file_pokes_do_nothing() -> None:
    window = MigrationWindow(None)
    window.poke(0.0)
    assert window.timeout(0.0) is None
    window.run_due(0.0)
    assert window.primed == 0
