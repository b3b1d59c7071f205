"""The migration window on the real kernel: it migrates this process into its own cgroup, changing nothing."""

from __future__ import annotations

import os

import pytest

from berth.kernel.cgroupwarm import MigrationWindow, kernel_keeps_it_open
from berth.kernel.features import cgroup_mounts

pytestmark = pytest.mark.privileged


def _cgroups() -> str:
    with open("/proc/self/cgroup") as f:
        return f.read()


def test_priming_writes_our_pid_and_leaves_us_where_we_were() -> None:
    if kernel_keeps_it_open(cgroup_mounts()):
        assert MigrationWindow.for_this_process().procs_file is None
        return
    window = MigrationWindow.for_this_process()
    assert window.procs_file is not None
    assert os.path.exists(window.procs_file)
    before = _cgroups()
    window.poke(0.0)
    window.run_due(0.0)
    assert window.procs_file is not None, "the kernel refused the write"
    assert window.primed == 1
    assert _cgroups() == before
    with open(window.procs_file) as f:
        assert str(os.getpid()) in f.read().split()
