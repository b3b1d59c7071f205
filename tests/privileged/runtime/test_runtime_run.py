"""berth-runtime on the real kernel: what a process inside a container sees (run, one-shot)."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.privileged.runtime.conftest import DOCKER_CAP_MASK

pytestmark = pytest.mark.privileged


def run(make_bundle: Any, runtime: Any, script: str, cid: str = "c1", **over: Any) -> tuple[int, str, str]:
    b = make_bundle(cid)
    b.write_config(["sh", "-c", script], **over)
    runtime.ids.append(cid)
    res = runtime("run", "--bundle", str(b.path), cid, check=False)
    return res.returncode, res.stdout, res.stderr


def test_echo_and_exit_code(make_bundle: Any, runtime: Any) -> None:
    code, out, err = run(make_bundle, runtime, "echo hello; exit 3")
    assert (code, out) == (3, "hello\n"), err


def test_hostname_and_pid_one(make_bundle: Any, runtime: Any) -> None:
    code, out, err = run(make_bundle, runtime, "hostname; echo $$", hostname="box1")
    assert (code, out.split()) == (0, ["box1", "1"]), err


def test_capabilities_are_dockers_default_set(make_bundle: Any, runtime: Any) -> None:
    code, out, err = run(make_bundle, runtime, "grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status")
    assert code == 0, err
    caps = {line.split(":")[0]: int(line.split()[1], 16) for line in out.splitlines()}
    assert caps == {"CapPrm": DOCKER_CAP_MASK, "CapEff": DOCKER_CAP_MASK, "CapBnd": DOCKER_CAP_MASK}


def test_masked_paths_are_empty(make_bundle: Any, runtime: Any) -> None:
    script = "wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; cat /proc/keys | wc -c"
    code, out, err = run(make_bundle, runtime, script)
    assert (code, out.split()) == (0, ["0", "0", "0"]), err


def test_proc_sys_and_sys_are_read_only(make_bundle: Any, runtime: Any) -> None:
    script = (
        "echo x > /proc/sys/kernel/hostname 2>/dev/null && echo procsys-rw || echo procsys-ro;"
        "mkdir /sys/berth-x 2>/dev/null && echo sys-rw || echo sys-ro;"
        "hostname"
    )
    code, out, err = run(make_bundle, runtime, script)
    assert (code, out.split()) == (0, ["procsys-ro", "sys-ro", "ctr"]), err


def test_user_groups_env_and_cwd(make_bundle: Any, runtime: Any) -> None:
    script = "id -u; id -g; id -G | tr ' ' '\\n' | sort -n | xargs; echo $FOO; pwd; echo $HOME"
    user = {"uid": 1000, "gid": 1000, "additionalGids": [50, 1000]}
    env = ["PATH=/bin", "FOO=bar baz"]
    code, out, err = run(make_bundle, runtime, script, user=user, env=env, cwd="/tmp/work")
    assert code == 0, err
    assert out.splitlines() == ["1000", "1000", "50 1000", "bar baz", "/tmp/work", "/home/alice"]


def test_rlimits_and_hard_limit_clamp(make_bundle: Any, runtime: Any) -> None:
    host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    rlimits = [
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": host_hard + 1_000_000},
        {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600},
    ]
    code, out, err = run(make_bundle, runtime, "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu", rlimits=rlimits)
    assert (code, out.split()) == (0, ["100", str(host_hard), "500", "600"]), err


def test_host_mounts_and_processes_are_hidden(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    script = "cut -d' ' -f2 /proc/mounts; echo --; ls /proc | grep -E '^[0-9]+$'"
    code, out, err = run(make_bundle, runtime, script)
    assert code == 0, err
    mounts, pids = out.split("--\n")
    assert str(tmp_path) not in mounts
    assert {"/", "/dev/pts", "/sys/fs/cgroup/memory"} <= set(mounts.split())
    assert len(pids.split()) <= 3, pids  # sh, ls and grep only
    assert str(os.getpid()) not in pids.split() or os.getpid() < 4


def test_new_network_namespace_has_lo_up(make_bundle: Any, runtime: Any) -> None:
    code, out, err = run(make_bundle, runtime, "ls /sys/class/net; ping -c1 -W2 127.0.0.1 >/dev/null && echo ok")
    assert (code, out.split()) == (0, ["lo", "ok"]), err


def test_readonly_root_and_file_bind_mounts(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost berth-test\n")
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/etc/hosts", "type": "bind", "source": str(hosts), "options": ["rbind", "ro"]},
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
    ]
    script = (
        "cat /etc/hosts; touch /x 2>/dev/null && echo root-rw || echo root-ro;"
        "echo y >> /etc/hosts 2>/dev/null && echo hosts-rw || echo hosts-ro;"
        "touch /data/ok && echo data-rw"
    )
    root = {"path": "rootfs", "readonly": True}
    code, out, err = run(make_bundle, runtime, script, mounts=mounts, root=root)
    assert code == 0, err
    assert out.splitlines() == ["127.0.0.1 localhost berth-test", "root-ro", "hosts-ro", "data-rw"]
    assert hosts.read_text() == "127.0.0.1 localhost berth-test\n"


def test_dev_has_dockers_nodes(make_bundle: Any, runtime: Any) -> None:
    script = "ls /dev; readlink /dev/ptmx; echo x > /dev/null && head -c3 /dev/zero | wc -c"
    code, out, err = run(make_bundle, runtime, script)
    assert code == 0, err
    lines = out.split()
    for name in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "fd", "stdin"):
        assert name in lines
    assert lines[-2:] == ["pts/ptmx", "3"]


def test_memory_and_pids_limits_reach_the_cgroup(make_bundle: Any, runtime: Any) -> None:
    resources = {"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 50}, "cpu": {"shares": 512}}
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares"
        " 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
    )
    code, out, err = run(make_bundle, runtime, script, resources=resources)
    assert code == 0, err
    assert out.split()[:2] == [str(64 * 1024 * 1024), "50"]


def test_config_devices_are_created_with_their_mode(make_bundle: Any, runtime: Any) -> None:
    devices = [{"path": "/dev/extra/null2", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 0, "gid": 5}]
    code, out, err = run(make_bundle, runtime, "ls -ln /dev/extra/null2; echo hi > /dev/extra/null2", devices=devices)
    assert code == 0, err
    fields = out.split()
    assert (fields[0], fields[2], fields[3], fields[4], fields[5]) == ("crw--w----", "0", "5", "1,", "3")


def test_inherited_fds_do_not_leak_unless_preserved(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    b = make_bundle("c1")
    b.write_config(["sh", "-c", "ls /proc/self/fd | xargs; cat <&3"])
    runtime.ids.append("c1")
    extra = tmp_path / "extra"
    extra.write_text("from-fd-3\n")
    outputs = []
    for preserve in ([], ["--preserve-fds", "1"]):
        # the caller holds fd 3 open without close-on-exec, as a careless caller might
        cmd = [
            "sh",
            "-c",
            'exec 3<"$0"; exec "$@"',
            str(extra),
            *runtime.cmd("run", *preserve, "--bundle", str(b.path), "c1"),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        outputs.append(res.stdout.splitlines())
    assert outputs[0] == ["0 1 2 3"]  # 3 is ls's own directory fd; `cat <&3` finds nothing
    assert outputs[1] == ["0 1 2 3 4", "from-fd-3"]


def test_shared_rootfs_propagation(make_bundle: Any, runtime: Any) -> None:
    code, out, err = run(
        make_bundle, runtime, "awk '$5 == \"/\" {print $7}' /proc/self/mountinfo", rootfsPropagation="rshared"
    )
    assert code == 0, err
    assert out.startswith("shared:")
