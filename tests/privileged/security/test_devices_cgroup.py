"""The devices cgroup: Docker's default rules through cgroup v1 and, on a pure cgroup2 view, an eBPF filter;
berth-runtime and Debian's runc give the same answers on the same bundle."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any

import pytest

from berth.daemon.containers import spec_linux as lx
from berth.kernel.features import cgroup_mounts
from tests.privileged.runtime.conftest import CGROUP_PARENT

pytestmark = pytest.mark.privileged

PROBE = (
    "mknod /dev/sda1 b 8 1 && echo mknod-blk=ok;"
    "cat /dev/sda1 2>&1 | sed 's/.*: //' | sed 's/^/open-blk=/';"
    "echo x > /dev/null && echo null=ok;"
    "head -c4 /dev/urandom | wc -c | sed 's/ //g; s/^/urandom=/';"
    "mknod /dev/fuse c 10 229 && echo mknod-fuse=ok;"
    "(echo > /dev/fuse) 2>&1 | sed 's/.*: //' | sed 's/^/open-fuse=/';"
    "mknod /dev/loopx b 7 0;"
    "if cat /dev/loopx >/dev/null 2>/tmp/err; then echo open-loop=ok; else sed 's/.*: //; s/^/open-loop=/' /tmp/err; fi"
)
EXPECTED = {
    "mknod-blk=ok", "open-blk=Operation not permitted", "null=ok", "urandom=4", "mknod-fuse=ok",
    "open-fuse=Operation not permitted", "open-loop=Operation not permitted",
}


def _docker_rules(extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"devices": [dict(r) for r in lx.DEFAULT_DEVICE_RULES] + (extra or [])}


def _lines(res: subprocess.CompletedProcess[str]) -> set[str]:
    assert res.returncode == 0, res.stderr
    return {line for line in res.stdout.split("\n") if "=" in line}


def test_v1_default_rules_match_runc(make_bundle: Any, runtime: Any, runc: Any) -> None:
    answers = {}
    for name, rt in (("berth", runtime), ("runc", runc)):
        b = make_bundle(f"dev1-{name}")
        b.write_config(["sh", "-c", PROBE], resources=_docker_rules())
        rt.ids.append(b.id)
        answers[name] = _lines(rt("run", "--bundle", str(b.path), b.id))
    assert answers["berth"] == EXPECTED
    assert answers["runc"] == answers["berth"]


def test_v1_custom_device_rule_opens_it(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("dev1-loop")
    loop = {"allow": True, "type": "b", "major": 7, "minor": 0, "access": "r"}
    b.write_config(["sh", "-c", PROBE], resources=_docker_rules([loop]))
    runtime.ids.append(b.id)
    got = _lines(runtime("run", "--bundle", str(b.path), b.id))
    assert "open-loop=ok" in got
    assert "open-blk=Operation not permitted" in got


def _unified_mount() -> str:
    unified = next((m.mountpoint for m in cgroup_mounts() if m.version == 2), None)
    if unified is None:
        pytest.fail("no cgroup2 mount on this machine")
    return unified


def _pure_v2(rt: Any, bundle: Any, setup: str = "") -> subprocess.CompletedProcess[str]:
    """Run the bundle in a private mount namespace whose only cgroup mount is cgroup2 (or after `setup`)."""
    inner = " ".join(shlex.quote(a) for a in rt.cmd("run", "--bundle", str(bundle.path), bundle.id))
    setup = setup or "umount -R /sys/fs/cgroup; mount -t cgroup2 none /sys/fs/cgroup"
    script = f"set -e; {setup}; {inner}"
    unified = _unified_mount()
    control = os.path.join(unified, "cgroup.subtree_control")
    with open(control) as f:
        before = set(f.read().split())
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                              capture_output=True, text=True, timeout=60)
    finally:
        with open(control) as f:
            added = set(f.read().split()) - before
        for ctrl in added:
            try:
                with open(control, "w") as f:
                    f.write("-" + ctrl)
            except OSError:
                pass
        leftover = f"{unified}{CGROUP_PARENT}/{bundle.id}"
        if os.path.isdir(leftover):
            os.rmdir(leftover)


def test_pure_cgroup2_ebpf_filter_matches_runc(make_bundle: Any, runtime: Any, runc: Any) -> None:
    answers = {}
    for name, rt in (("berth", runtime), ("runc", runc)):
        b = make_bundle(f"dev2-{name}")
        b.write_config(["sh", "-c", PROBE], resources=_docker_rules())
        rt.ids.append(b.id)
        answers[name] = _lines(_pure_v2(rt, b))
    assert answers["berth"] == EXPECTED
    assert answers["runc"] == answers["berth"]


def test_pure_cgroup2_allow_all_and_custom_rule(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("dev2-all")
    b.write_config(["sh", "-c", PROBE], resources={"devices": [{"allow": True, "access": "rwm"}]})
    runtime.ids.append(b.id)
    got = _lines(_pure_v2(runtime, b))
    assert "open-blk=Operation not permitted" not in got
    assert "open-loop=ok" in got
    b = make_bundle("dev2-loop")
    loop = {"allow": True, "type": "b", "major": 7, "minor": 0, "access": "r"}
    b.write_config(["sh", "-c", PROBE], resources=_docker_rules([loop]))
    runtime.ids.append(b.id)
    got = _lines(_pure_v2(runtime, b))
    assert "open-loop=ok" in got
    assert "open-blk=Operation not permitted" in got


def test_hybrid_without_v1_devices_falls_back_to_ebpf(make_bundle: Any, runtime: Any) -> None:
    mount = "/sys/fs/cgroup/devices"
    setup = f"umount {mount}" if os.path.ismount(mount) else "true"  # a pure v2 host has no v1 devices anyway
    b = make_bundle("dev-hybrid-nov1")
    b.write_config(["sh", "-c", PROBE], resources=_docker_rules())
    runtime.ids.append(b.id)
    assert _lines(_pure_v2(runtime, b, setup=setup)) == EXPECTED
