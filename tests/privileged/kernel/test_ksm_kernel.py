"""Same-page merging marks on the real kernel: kept by a fork, gone after an exec."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.daemon_harness import REPO

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(not os.path.isdir("/sys/kernel/mm/ksm"), reason="this kernel has no KSM"),
]

CHILD = r"""
import os, subprocess, sys
from berth.kernel.ksm import mark_mergeable

def mergeable(pid):
    with open(f"/proc/{pid}/smaps") as f:
        flags = [line.split()[1:] for line in f if line.startswith("VmFlags:")]
    return sum("mg" in fl for fl in flags)

assert mergeable("self") == 0, "marked before we asked"
marked = mark_mergeable()
before_fork = mergeable("self")
pid = os.fork()
if pid == 0:
    os._exit(0 if mergeable("self") == before_fork else 3)
_, status = os.waitpid(pid, 0)
exec_out = subprocess.run(["/bin/cat", "/proc/self/smaps"], capture_output=True, text=True, check=True).stdout
print(marked, before_fork, os.waitstatus_to_exitcode(status), exec_out.count(" mg"))
"""


def test_marked_memory_stays_marked_in_a_fork_and_an_exec_starts_unmarked() -> None:
    res = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, cwd=REPO)
    marked, regions, fork_status, after_exec = (int(x) for x in res.stdout.split())
    assert marked >= 1 << 20  # the interpreter's heap and data at least
    assert regions >= 3
    assert fork_status == 0  # the forked copy (a shim) keeps every mark
    assert after_exec == 0  # what it execs (a container's process) has none
