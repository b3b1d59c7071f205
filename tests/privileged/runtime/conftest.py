"""Fixtures for the runtime's privileged tests: overlay bundles, a Docker-like config.json, runtimes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DOCKER_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]
DOCKER_CAP_MASK = 0x00000000A80425FB
MASKED = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
CGROUP_PARENT = f"/berthtest-{os.getpid()}"


def docker_config(args: list[str], cid: str, **over: Any) -> dict[str, Any]:
    """A config.json shaped like the one Docker generates for `docker run busybox ARGS`."""
    caps = list(DOCKER_CAPS)
    cfg: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=ctr"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps},
            "noNewPrivileges": False,
            "oomScoreAdj": 0,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "ctr",
        "mounts": [
            {
                "destination": "/proc",
                "type": "proc",
                "source": "proc",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["ro", "nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
            },
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("mount", "network", "uts", "pid", "ipc")],
            "cgroupsPath": f"{CGROUP_PARENT}/{cid}",
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY,
            "seccomp": {
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [],
            },
        },
    }
    for key, value in over.items():
        if key in (
            "user",
            "env",
            "cwd",
            "rlimits",
            "terminal",
            "consoleSize",
            "capabilities",
            "noNewPrivileges",
        ):
            cfg["process"][key] = value
        elif key in (
            "namespaces",
            "maskedPaths",
            "readonlyPaths",
            "devices",
            "sysctl",
            "resources",
            "rootfsPropagation",
            "uidMappings",
            "gidMappings",
        ):
            cfg["linux"][key] = value
        else:
            cfg[key] = value
    return cfg


def cgroup_dirs(path: str) -> list[str]:
    """Where `path` lives in every cgroup hierarchy of this machine."""
    from berth.runtime.cgroups import Cgroups

    return Cgroups.for_path(path).dirs


class Bundle:
    """An OCI bundle whose rootfs is an overlay over the shared busybox rootfs."""

    def __init__(self, path: Path, cid: str) -> None:
        self.path = path
        self.id = cid
        self.rootfs = path / "rootfs"

    def write_config(self, args: list[str], **over: Any) -> dict[str, Any]:
        cfg = docker_config(args, self.id, **over)
        (self.path / "config.json").write_text(json.dumps(cfg))
        return cfg


class Runtime:
    """Runs an OCI runtime CLI (ours or runc) with its own state root."""

    def __init__(self, argv: list[str], root: Path) -> None:
        self.argv = argv
        self.root = root
        self.ids: list[str] = []

    def cmd(self, *args: str) -> list[str]:
        return [*self.argv, "--root", str(self.root), *args]

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 30, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=timeout, **kw)
        if check and res.returncode != 0:
            raise AssertionError(f"{args} failed ({res.returncode}): {res.stderr}")
        return res

    def detached(self, *args: str, log: Path) -> None:
        """Run a command whose container process keeps our stdio: give it a file, not a pipe."""
        with open(log, "ab") as out:
            res = subprocess.run(self.cmd(*args), stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=30)
        if res.returncode != 0:
            raise AssertionError(f"{args} failed ({res.returncode}): {log.read_text()}")

    def state(self, cid: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self("state", cid).stdout)
        return out

    def cleanup(self) -> None:
        for cid in self.ids:
            subprocess.run(self.cmd("delete", "--force", cid), capture_output=True, timeout=30)


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


@pytest.fixture
def make_bundle(busybox_rootfs: Path, tmp_path: Path) -> Iterator[Any]:
    """make_bundle(id) -> Bundle; every overlay and cgroup is checked and removed afterwards."""
    from berth.kernel.mount import mount, umount2

    made: list[Bundle] = []

    def make(cid: str) -> Bundle:
        base = tmp_path / cid
        for d in ("upper", "work", "rootfs"):
            (base / d).mkdir(parents=True)
        data = f"lowerdir={busybox_rootfs},upperdir={base / 'upper'},workdir={base / 'work'}"
        mount("overlay", str(base / "rootfs"), "overlay", 0, data)
        b = Bundle(base, cid)
        made.append(b)
        return b

    try:
        yield make
    finally:
        leftovers = _mounts_under(str(tmp_path))
        for b in made:
            try:
                umount2(str(b.rootfs), 2)
            except OSError:
                pass
        assert leftovers == [str(b.rootfs) for b in made], f"mounts left behind: {leftovers}"
        left_cgroups = [
            d
            for d in cgroup_dirs(CGROUP_PARENT)
            if os.path.isdir(d) and any(os.path.isdir(os.path.join(d, e)) for e in os.listdir(d))
        ]
        for d in reversed(cgroup_dirs(CGROUP_PARENT)):
            for sub in (os.path.join(d, e) for e in os.listdir(d)) if os.path.isdir(d) else []:
                if os.path.isdir(sub):
                    os.rmdir(sub)
            if os.path.isdir(d):
                os.rmdir(d)
        assert not left_cgroups, f"cgroups left behind: {left_cgroups}"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """berth-runtime with a state root of its own; containers are force-deleted afterwards."""
    rt = Runtime([sys.executable, "-m", "berth.runtime"], tmp_path / "state")
    try:
        yield rt
    finally:
        rt.cleanup()
        leftover = [p.name for p in rt.root.iterdir()] if rt.root.exists() else []
        assert not leftover, f"containers left behind: {leftover}"


@pytest.fixture
def runc(tmp_path: Path) -> Iterator[Runtime]:
    """The Debian runc, as an oracle on the same bundles."""
    exe = shutil.which("runc") or "/usr/sbin/runc"
    if not os.path.exists(exe):
        pytest.fail("runc is not installed (apt-get install runc)")
    rt = Runtime([exe], tmp_path / "runc-state")
    try:
        yield rt
    finally:
        rt.cleanup()
