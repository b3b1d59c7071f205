"""The generated config.json, etc files and user run on berth-runtime as docker's would (needs root)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from berth.daemon.containers import etcfiles, spec, users
from berth.daemon.containers.spec_linux import host_devices
from tests.privileged.runtime.conftest import CGROUP_PARENT

pytestmark = pytest.mark.privileged


def run(make_bundle: Any, runtime: Any, tmp_path: Path, script: str, config: dict[str, Any],
        hc: dict[str, Any], cid: str) -> tuple[int, str, str]:
    b = make_bundle(cid)
    etc_dir = tmp_path / f"etc-{cid}"
    etc_dir.mkdir()
    cfg = spec.merge_image_config({"Cmd": ["sh", "-c", script], **config}, {"Env": [f"PATH={spec.DEFAULT_PATH}"]})
    cfg.setdefault("Hostname", "")
    cfg["Hostname"] = cfg["Hostname"] or cid
    spec.validate(cfg, hc)
    etcfiles.write_all(str(etc_dir), cfg, hc, ip="10.9.8.7", host_resolv_conf=str(etc_dir / "none"))
    user = users.resolve(cfg["User"], [str(b.path / "upper"), str(b.rootfs)], hc.get("GroupAdd") or [])
    etc = {f"/etc/{n}": str(etc_dir / n) for n in ("resolv.conf", "hostname", "hosts")}
    oci = spec.build_spec(cfg, hc, user=user, rootfs=str(b.rootfs), cgroups_path=f"{CGROUP_PARENT}/{cid}",
                          etc_files=etc, known_caps=spec.all_capabilities(),
                          host_devices=host_devices() if hc.get("Privileged") else ())
    spec.write(str(b.path), oci)
    runtime.ids.append(cid)
    res = runtime("run", "--bundle", str(b.path), cid, check=False)
    return res.returncode, res.stdout, res.stderr


def test_default_container_sees_docker_environment(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    script = ("hostname; head -1 /etc/hosts; tail -1 /etc/hosts; cat /etc/resolv.conf; id; echo $HOME; pwd;"
              "grep -c . /proc/self/environ >/dev/null; env | grep -c ^HOSTNAME=")
    code, out, err = run(make_bundle, runtime, tmp_path, script, {}, {"NetworkMode": "bridge"}, "spec1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "spec1"
    assert lines[1] == "127.0.0.1\tlocalhost"
    assert lines[2] == "10.9.8.7\tspec1"
    assert lines[3:5] == ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    assert lines[5] == "uid=0(root) gid=0(root) groups=0(root)"
    assert lines[6:8] == ["/root", "/"]


def test_user_workdir_readonly_rootfs_and_tmpfs(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    script = ("id; pwd; echo $HOME; touch /x 2>/dev/null && echo rw || echo ro;"
              "touch /scratch/f && echo scratch-ok; grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9a-z]*'")
    hc = {"ReadonlyRootfs": True, "Tmpfs": {"/scratch": "size=1m"}, "ShmSize": 8 << 20, "GroupAdd": ["5"]}
    code, out, err = run(make_bundle, runtime, tmp_path, script, {"User": "alice", "WorkingDir": "/tmp"}, hc,
                         "spec2")
    assert code == 0, err
    assert out.splitlines() == [
        "uid=1000(alice) gid=1000(alice) groups=5(tty),50(staff),1000(alice)",
        "/tmp", "/home/alice", "ro", "scratch-ok", "size=8192k",
    ]


def test_cap_drop_all(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    code, out, err = run(make_bundle, runtime, tmp_path, "grep CapEff /proc/self/status",
                         {}, {"CapDrop": ["ALL"], "CapAdd": ["CHOWN"]}, "spec3")
    assert code == 0, err
    assert out.split() == ["CapEff:", "0000000000000001"]


def test_privileged(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    script = ("grep CapEff /proc/self/status; grep ' /sys sysfs ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1;"
              "test -c /dev/kmsg && echo kmsg; wc -c < /proc/timer_list | tr -d ' '")
    code, out, err = run(make_bundle, runtime, tmp_path, script, {}, {"Privileged": True}, "spec4")
    assert code == 0, err
    lines = out.split("\n")
    with open("/proc/self/status") as f:
        ours = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    assert int(lines[0].split()[1], 16) == int(ours, 16)
    assert lines[1:3] == ["rw", "kmsg"]
    assert int(lines[3]) > 0  # /proc/timer_list is not masked


def test_init_is_pid_one(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    tini = Path("/usr/bin/tini-static")
    assert tini.exists(), "these tests use Debian's tini-static as the container init"
    b = make_bundle("spec5")
    cfg = spec.merge_image_config({"Cmd": ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$"]},
                                  {"Env": [f"PATH={spec.DEFAULT_PATH}"]})
    cfg["Hostname"] = "spec5"
    user = users.resolve("", [str(b.rootfs)])
    oci = spec.build_spec(cfg, {"Init": True}, user=user, rootfs=str(b.rootfs),
                          cgroups_path=f"{CGROUP_PARENT}/spec5", etc_files={}, init_path=str(tini))
    spec.write(str(b.path), oci)
    runtime.ids.append("spec5")
    res = runtime("run", "--bundle", str(b.path), "spec5", check=False)
    assert res.returncode == 0, res.stderr
    cmdline, pid = res.stdout.splitlines()
    assert cmdline.split()[:2] == ["/sbin/docker-init", "--"]
    assert int(pid) > 1
