"""A new user namespace from linux.uidMappings/gidMappings: container root is an unprivileged host id."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.privileged

HOST_ID = 231072
MAPS = [{"containerID": 0, "hostID": HOST_ID, "size": 65536}]
USERNS = {
    "namespaces": [{"type": t} for t in ("mount", "network", "uts", "pid", "ipc", "user")],
    "uidMappings": MAPS,
    "gidMappings": MAPS,
}
PROBE = r"""
id; cat /proc/self/uid_map /proc/self/gid_map
grep -E '^Cap(Eff|Bnd)' /proc/self/status
ls -ln /bin/busybox | awk '{print $3, $4}'
touch /tmp/made-inside && ls -ln /tmp/made-inside | awk '{print $3, $4}'
awk '$2 == "/sys" || $2 == "/proc" || $2 == "/dev/mqueue" {print $1, $2, $3}' /proc/mounts
hostname inside-ns && hostname
mknod /dev/probe c 1 3 2>&1 | sed 's/^mknod: //'
exit 5
"""


def _traversable(path: Path) -> None:
    """The remapped root must be able to walk to the bundle, as under dockerd's --userns-remap."""
    for p in [path, *path.parents]:
        mode = os.stat(p).st_mode
        if not mode & 0o001:
            os.chmod(p, mode | 0o001)


def test_user_namespace_same_view_as_runc(make_bundle: Any, runtime: Any, runc: Any) -> None:
    outputs = []
    for rt, cid in ((runtime, "uns-ours"), (runc, "uns-runc")):
        b = make_bundle(cid)
        _traversable(b.path)
        b.write_config(["sh", "-c", PROBE], **USERNS)
        rt.ids.append(cid)
        res = rt("run", "--bundle", str(b.path), cid, check=False)
        assert res.returncode == 5, res.stderr
        outputs.append(res.stdout.splitlines())
        # what container root wrote belongs to the unprivileged host id
        st = os.stat(b.path / "upper" / "tmp" / "made-inside")
        assert (st.st_uid, st.st_gid) == (HOST_ID, HOST_ID)
        rt("delete", "--force", cid)
    ours, theirs = outputs
    assert ours == theirs, (ours, theirs)
    assert ours[0].startswith("uid=0(root) gid=0(root)")
    assert f"0 {HOST_ID} 65536" in " ".join(ours[1].split())
    assert ours[5].split() == ["65534", "65534"]  # host root's files: nobody inside
    assert ours[6].split() == ["0", "0"]
    assert os.uname().nodename != "inside-ns"


def test_exec_joins_the_user_namespace(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    b = make_bundle("uns-exec")
    _traversable(b.path)
    b.write_config(["sleep", "100"], **USERNS)
    runtime.ids.append("uns-exec")
    runtime.detached("run", "--detach", "--bundle", str(b.path), "uns-exec", log=tmp_path / "log")
    for _ in range(100):
        res = runtime("exec", "uns-exec", "sh", "-c", "id -u; cat /proc/self/uid_map", check=False)
        if res.returncode == 0:
            break
        time.sleep(0.05)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(HOST_ID), "65536"]
    pid = int(runtime("state", "uns-exec").stdout.split('"pid":')[1].split(",")[0].strip())
    with open(f"/proc/{pid}/status") as f:
        uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
    assert uids == [str(HOST_ID)] * 4  # the container's root is not the host's root
