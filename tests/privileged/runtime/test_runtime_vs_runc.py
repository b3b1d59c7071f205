"""The same bundle and config.json under berth-runtime and under runc must look the same from inside."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.privileged

PROBE = r"""
hostname; id; echo pid=$$; pwd; umask; env | sort
grep -E '^(Cap|NoNewPrivs)' /proc/self/status
ls -A /dev; ls -ln /dev | awk 'NR>1 {print $1, $3, $4, $5, $6, $NF}'
readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stdin
ls -A /dev/pts /dev/shm /dev/mqueue
ulimit -a
awk '{print $1, $2, $3, $4}' /proc/mounts
ls /sys/fs/cgroup; ls /sys/class/net
wc -c < /proc/kcore 2>&1; wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l
echo x > /proc/sys/kernel/hostname 2>/dev/null && echo procsys-rw || echo procsys-ro
touch /etc/probe 2>/dev/null && echo root-rw || echo root-ro
cat /proc/self/oom_score_adj
exit 4
"""


def same_view(ours: str, theirs: str) -> None:
    """Equal output, except that the order of /proc/mounts lines may differ (the cgroup mounts are made last
    by berth-runtime, while the parent creates the cgroups)."""
    def split(text: str) -> tuple[list[str], list[str]]:
        lines = text.splitlines()
        mounts = [ln for ln in lines if len(ln.split()) == 4 and ln.split()[1].startswith("/")
                  and ln.split()[3].split(",")[0] in ("rw", "ro")]
        return [ln for ln in lines if ln not in mounts], sorted(mounts)

    assert split(ours) == split(theirs)


def run_both(make_bundle: Any, runtime: Any, runc: Any, **over: Any) -> tuple[Any, Any]:
    b = make_bundle("cmp")
    b.write_config(["sh", "-c", PROBE], **over)
    runtime.ids.append("cmp")
    ours = runtime("run", "--bundle", str(b.path), "cmp", check=False)
    runtime("delete", "--force", "cmp")
    runc.ids.append("cmp")
    theirs = runc("run", "--bundle", str(b.path), "cmp", check=False)
    return ours, theirs


def test_same_view_as_runc_default_config(make_bundle: Any, runtime: Any, runc: Any) -> None:
    ours, theirs = run_both(make_bundle, runtime, runc)
    assert theirs.returncode == 4, theirs.stderr
    assert ours.returncode == 4, ours.stderr
    same_view(ours.stdout, theirs.stdout)


def test_same_view_as_runc_user_rlimits_readonly(make_bundle: Any, runtime: Any, runc: Any) -> None:
    over = {
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [5, 50], "umask": 0o027},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}],
        "root": {"path": "rootfs", "readonly": True},
        "noNewPrivileges": True,
        "cwd": "/home/alice",
    }
    ours, theirs = run_both(make_bundle, runtime, runc, **over)
    assert (ours.returncode, theirs.returncode) == (4, 4), (ours.stderr, theirs.stderr)
    same_view(ours.stdout, theirs.stdout)
