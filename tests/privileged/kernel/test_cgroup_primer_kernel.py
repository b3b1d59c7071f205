"""The migration primer on the real kernel: it migrates this process into its own cgroups, changing nothing."""

from __future__ import annotations

import os
import time

import pytest

from berth.kernel.cgroupwarm import MigrationPrimer

pytestmark = pytest.mark.privileged


def _cgroups() -> str:
    with open("/proc/self/cgroup") as f:
        return f.read()


def test_priming_writes_our_pid_and_leaves_us_where_we_were() -> None:
    primer = MigrationPrimer.for_this_process()
    assert primer.procs_file is not None
    assert os.path.exists(primer.procs_file)
    before = _cgroups()
    for _ in range(3):
        primer.prime()
    deadline = time.monotonic() + 10
    while primer.primed == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert primer.primed >= 1
    assert primer.procs_file is not None, "the kernel refused the write"
    assert _cgroups() == before
    with open(primer.procs_file) as f:
        assert str(os.getpid()) in f.read().split()


def test_a_refused_write_turns_priming_off() -> None:
    primer = MigrationPrimer("/proc/no-such-dir/cgroup.procs")
    primer.prime()
    deadline = time.monotonic() + 10
    while primer.procs_file is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert primer.procs_file is None
    assert primer.primed == 0
    primer.prime()  # no thread left to wake, and no error
