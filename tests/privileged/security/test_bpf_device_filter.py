"""The eBPF device filter straight on a cgroup2 directory: loaded, attached, enforced, replaced on update."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from berth.daemon.containers.spec_linux import DEFAULT_DEVICE_RULES
from berth.kernel import bpf
from berth.kernel.features import cgroup_mounts
from berth.runtime.cgroups import devices as devcg

pytestmark = pytest.mark.privileged


def _unified() -> str:
    unified = next((m.mountpoint for m in cgroup_mounts() if m.version == 2), None)
    if unified is None:
        pytest.fail("no cgroup2 mount on this machine")
    return unified


@pytest.fixture
def v2_cgroup() -> Iterator[str]:
    d = os.path.join(_unified(), f"berth-bpftest-{uuid.uuid4().hex[:8]}")
    os.mkdir(d)
    try:
        yield d
    finally:
        os.rmdir(d)


def _in_cgroup(d: str, cmd: str) -> subprocess.CompletedProcess[str]:
    script = f"echo $$ > {d}/cgroup.procs && {cmd}"
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)


def test_filter_enforced_and_replaced(v2_cgroup: str) -> None:
    devcg.apply_v2(v2_cgroup, [dict(r) for r in DEFAULT_DEVICE_RULES])
    assert len(bpf.attached_device_progs(v2_cgroup)) == 1
    denied = _in_cgroup(v2_cgroup, "head -c1 /dev/loop0")
    assert denied.returncode != 0
    assert "Operation not permitted" in denied.stderr
    assert _in_cgroup(v2_cgroup, "echo x > /dev/null").returncode == 0
    devcg.apply_v2(v2_cgroup, [{"allow": True, "access": "rwm"}])
    assert len(bpf.attached_device_progs(v2_cgroup)) == 1  # the old program was detached
    allowed = _in_cgroup(v2_cgroup, "head -c1 /dev/loop0")
    assert allowed.returncode == 0, allowed.stderr


def test_verifier_errors_are_reported() -> None:
    with pytest.raises(OSError) as exc:
        bpf.load_cgroup_device(b"\x95" + b"\x00" * 7)  # exit without setting r0
    assert "R0" in str(exc.value)
