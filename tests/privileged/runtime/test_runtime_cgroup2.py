"""berth-runtime on a pure cgroup v2 view: a private mount namespace whose only cgroup mount is cgroup2.

On a hybrid host the cgroup2 hierarchy has (almost) no controllers, so this checks placement, the
/sys/fs/cgroup mount and cleanup of the v2 code path, not its limits."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any

import pytest

from berth.kernel.features import cgroup_mounts
from tests.privileged.runtime.conftest import CGROUP_PARENT

pytestmark = pytest.mark.privileged


def _unified_mount() -> str | None:
    unified = next((m.mountpoint for m in cgroup_mounts() if m.version == 2), None)
    return unified


def _restore_subtree_control(control: str, enabled_before: set[str]) -> None:
    """The v2 path enables controllers in the parents, the root included: undo that on this shared root."""
    with open(control) as f:
        added = set(f.read().split()) - enabled_before
    for ctrl in added:
        try:
            with open(control, "w") as f:
                f.write("-" + ctrl)
        except OSError:
            pass  # in use below the root by someone else: leave it


def test_pure_cgroup2_placement_and_cleanup(make_bundle: Any, runtime: Any) -> None:
    unified = _unified_mount()
    if unified is None:
        pytest.fail("no cgroup2 mount on this machine")
    b = make_bundle("v2")
    b.write_config(["sh", "-c", "cat /proc/self/cgroup; ls /sys/fs/cgroup | grep -c cgroup.procs"])
    runtime.ids.append("v2")
    inner = " ".join(shlex.quote(a) for a in runtime.cmd("run", "--bundle", str(b.path), "v2"))
    script = (
        "set -e; umount -R /sys/fs/cgroup; mount -t cgroup2 none /sys/fs/cgroup;"
        f"{inner}; test ! -e /sys/fs/cgroup{CGROUP_PARENT}/v2 && echo removed"
    )
    control = os.path.join(unified, "cgroup.subtree_control")
    with open(control) as f:
        enabled_before = set(f.read().split())
    try:
        res = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        _restore_subtree_control(control, enabled_before)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split()
    assert f"0::{CGROUP_PARENT}/v2" in lines
    assert lines[-2:] == ["1", "removed"]
    assert not os.path.exists(f"{unified}{CGROUP_PARENT}/v2")
