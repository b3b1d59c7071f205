"""Security options end to end with the docker CLI: capabilities, devices, read-only rootfs, tmpfs, users and
groups, ulimits, sysctls, oom score, pids limit; bad input is refused with docker's texts and leaves nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.daemon_harness import Daemon, api_json

pytestmark = pytest.mark.e2e

DOCKER_DEFAULT = 0xA80425FB
CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_CHOWN, CAP_NET_RAW = 12, 21, 0, 13


def _run(d: Daemon, *args: str) -> str:
    res = d.docker("run", "--rm", *args)
    assert res.returncode == 0, res.stderr.decode() + d.read_log()[-2000:]
    return res.stdout.decode()


def _caps(text: str) -> dict[str, int]:
    return {k: int(v, 16) for k, v in (line.split(":") for line in text.splitlines() if line.startswith("Cap"))}


@pytest.mark.parametrize(("opts", "expect"), [
    ((), DOCKER_DEFAULT),
    (("--cap-add", "sys_admin", "--cap-drop", "CAP_CHOWN"), (DOCKER_DEFAULT | 1 << CAP_SYS_ADMIN) & ~(1 << CAP_CHOWN)),
    (("--cap-drop", "ALL", "--cap-add", "net_raw"), 1 << CAP_NET_RAW),
    (("--cap-drop", "all"), 0),
], ids=["default", "add-drop", "drop-all-add", "drop-all"])
def test_capability_sets(berthd: Daemon, opts: tuple[str, ...], expect: int) -> None:
    caps = _caps(_run(berthd, *opts, "busybox", "grep", "Cap", "/proc/1/status"))
    assert caps == {"CapInh": 0, "CapPrm": expect, "CapEff": expect, "CapBnd": expect, "CapAmb": 0}


def test_add_all_is_the_daemons_set_and_inspect_agrees(berthd: Daemon) -> None:
    with open("/proc/self/status") as f:
        bounding = _caps(f.read())["CapBnd"]
    assert _caps(_run(berthd, "--cap-add", "ALL", "busybox", "grep", "Cap", "/proc/1/status"))["CapEff"] == bounding
    name = "caps-inspect"
    res = berthd.docker("run", "-d", "--name", name, "--cap-add", "net_admin", "--cap-drop", "mknod", "busybox",
                        "sleep", "30")
    assert res.returncode == 0, res.stderr.decode()
    try:
        hc = json.loads(berthd.docker("inspect", "-f", "{{json .HostConfig}}", name).stdout)
        status = berthd.docker("exec", name, "grep", "CapEff", "/proc/1/status").stdout.decode()
        assert (hc["CapAdd"], hc["CapDrop"]) == (["CAP_NET_ADMIN"], ["CAP_MKNOD"])
        assert _caps(status)["CapEff"] == (DOCKER_DEFAULT | 1 << CAP_NET_ADMIN) & ~(1 << 27)
    finally:
        berthd.docker("rm", "-f", name)


def test_non_root_user_keeps_only_the_bounding_set(berthd: Daemon) -> None:
    caps = _caps(_run(berthd, "--user", "1000", "busybox", "grep", "Cap", "/proc/1/status"))
    assert caps == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": DOCKER_DEFAULT, "CapAmb": 0}


def test_default_devices(berthd: Daemon) -> None:
    out = _run(berthd, "busybox", "sh", "-c",
               "mknod /dev/sda1 b 8 1 && echo mknod-ok; head -c1 /dev/sda1 2>&1; echo x > /dev/null && echo null-ok;"
               "ls /dev; true")
    assert "mknod-ok" in out
    assert "head: /dev/sda1: Operation not permitted" in out
    assert "null-ok" in out
    assert "fuse" not in out.split()
    err = berthd.docker("run", "--rm", "busybox", "head", "-c1", "/dev/sda1").stderr.decode()
    assert "No such file" in err  # not created unless asked for


def test_device_flag_adds_node_and_rule(berthd: Daemon) -> None:
    out = _run(berthd, "--device", "/dev/loop0:/dev/disk0:r", "busybox", "sh", "-c",
               "ls -l /dev/disk0; cat /dev/disk0 > /dev/null && echo read-ok; echo > /dev/disk0 || echo write-denied")
    assert out.startswith("b")
    assert "read-ok" in out
    assert "write-denied" in out


def test_privileged_gets_host_devices(berthd: Daemon) -> None:
    out = _run(berthd, "--privileged", "busybox", "sh", "-c", "ls /dev; cat /dev/loop0 > /dev/null && echo read-ok")
    assert {"loop0", "read-ok"} <= set(out.split())


def test_read_only_rootfs(berthd: Daemon) -> None:
    out = _run(berthd, "--read-only", "--tmpfs", "/run:rw,size=1m,mode=700", "busybox", "sh", "-c",
               "touch /x 2>&1; touch /dev/shm/x && echo shm-ok; touch /run/x && echo run-ok;"
               "(echo y >> /etc/hosts) 2>&1; grep -E ' /run | / ' /proc/mounts; true")
    assert "touch: /x: Read-only file system" in out
    assert "shm-ok" in out
    assert "run-ok" in out
    assert "can't create /etc/hosts: Read-only file system" in out  # docker keeps them read-only too
    run_line = next(line for line in out.splitlines() if " /run " in line)
    assert "size=1024k" in run_line
    assert "mode=700" in run_line
    assert "nosuid" in run_line


def test_users_and_groups(berthd: Daemon) -> None:
    assert _run(berthd, "--user", "nobody", "busybox", "id").split()[0] == "uid=65534(nobody)"
    out = _run(berthd, "--user", "1000:1000", "--group-add", "5", "--group-add", "nogroup", "busybox", "sh", "-c",
               "id -u; id -g; grep Groups /proc/self/status")
    assert out.split() == ["1000", "1000", "Groups:", "5", "1000", "65534"]


def test_ulimits(berthd: Daemon) -> None:
    out = _run(berthd, "--ulimit", "nofile=512:1024", "--ulimit", "nproc=50", "busybox", "sh", "-c",
               "ulimit -n; ulimit -Hn; ulimit -u")
    assert out.split() == ["512", "1024", "50"]


def test_sysctls(berthd: Daemon) -> None:
    out = _run(berthd, "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=123456", "busybox",
               "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax")
    assert out.split() == ["1", "123456"]


def test_oom_score_adj_and_pids_limit(berthd: Daemon) -> None:
    assert _run(berthd, "--oom-score-adj", "500", "busybox", "cat", "/proc/1/oom_score_adj").strip() == "500"
    out = _run(berthd, "--pids-limit", "8", "busybox", "sh", "-c",
               "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max;"
               # a subshell forks until it cannot (ash then dies with "can't fork"); the report uses builtins only
               "(for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done) 2>/tmp/err; read -r line </tmp/err; "
               "echo \"$line\"; exit 0")
    assert out.split()[0] == "8"
    assert "can't fork" in out


def _names(d: Daemon) -> list[str]:
    return d.docker("ps", "-a", "--format", "{{.Names}}").stdout.decode().split()


BAD: list[tuple[dict[str, Any], str]] = [
    ({"CapAdd": ["foo"]}, 'invalid CapAdd: unknown capability: "CAP_FOO"'),
    ({"CapDrop": ["CAP_BOGUS"]}, 'invalid CapDrop: unknown capability: "CAP_BOGUS"'),
    ({"Devices": [{"PathOnHost": "/nonexistent", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]},
     'error gathering device information while adding custom device "/nonexistent": no such file or directory'),
    ({"Devices": [{"PathOnHost": "/etc/hostname", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]},
     'error gathering device information while adding custom device "/etc/hostname": not a device node'),
    ({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}, "invalid ulimit type: bogus"),
    ({"Ulimits": [{"Name": "nofile", "Soft": 2048, "Hard": 1024}]},
     "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"),
    ({"Ulimits": [{"Name": "nofile", "Soft": 10**9, "Hard": 10**9}]}, "ulimit nofile: hard limit 1000000000 is above"),
    ({"Sysctls": {"kernel.panic": "1"}}, "sysctl 'kernel.panic' is not allowed"),
    ({"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"},
     'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
]


@pytest.mark.parametrize(("host_config", "text"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_is_refused_and_nothing_is_created(berthd: Daemon, host_config: dict[str, Any], text: str) -> None:
    before = _names(berthd)
    status, body = api_json(berthd.sock, "POST", "/v1.44/containers/create",
                            {"Image": "busybox", "Cmd": ["true"], "HostConfig": host_config})
    assert status == 400, body
    assert isinstance(body, dict)
    assert text in body["message"]
    assert _names(berthd) == before


def test_cli_shows_the_daemons_text(berthd: Daemon) -> None:
    res = berthd.docker("run", "--rm", "--cap-add", "foo", "busybox", "true")
    assert res.returncode == 125
    assert 'docker: Error response from daemon: invalid CapAdd: unknown capability: "CAP_FOO"' in res.stderr.decode()


def test_device_cgroup_rule(berthd: Daemon) -> None:
    script = "mknod /dev/l0 b 7 0; cat /dev/l0 > /dev/null && echo read-ok; (echo > /dev/l0) 2>&1; true"
    out = _run(berthd, "--device-cgroup-rule", "b 7:* r", "busybox", "sh", "-c", script)
    assert "read-ok" in out
    assert "Operation not permitted" in out
    res = berthd.docker("run", "--rm", "--device-cgroup-rule", "x 1:2 rwm", "busybox", "true")
    assert res.returncode != 0
