"""Fixtures of the shim tests: OCI bundles over the busybox rootfs, runtimes, and a harness that cleans up."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from berth.daemon.containers.logconfig import LogTarget
from berth.daemon.shimclient import ShimClient, ShimLauncher

T = TypeVar("T")
REPO = str(Path(__file__).resolve().parents[3])
CGROUP_ROOT = "/sys/fs/cgroup"


def berth_runtime_available() -> bool:
    """True once berth.runtime answers `list` (another part of Berth, written at the same time)."""
    with tempfile.TemporaryDirectory() as root:
        try:
            proc = subprocess.run([sys.executable, "-m", "berth.runtime", "--root", root, "list"],
                                  capture_output=True, timeout=30, cwd=REPO)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return proc.returncode == 0


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "runtime_name" in metafunc.fixturenames:
        names = ["runc"] + (["berth"] if berth_runtime_available() else [])
        metafunc.parametrize("runtime_name", names)


def oci_config(rootfs: str, args: list[str], *, tty: bool = False, cgroups_path: str,
               env: list[str] | None = None, hostname: str = "shimtest") -> dict[str, Any]:
    """A minimal OCI runtime config for a busybox container (5 namespaces, /proc, /dev, devpts)."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": tty,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": env or ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: ["CAP_KILL", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"]
                             for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts", "network")],
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run a coroutine to its end on a fresh event loop, within `timeout`."""
    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro
    return asyncio.run(bounded())


def runtime_argv(name: str, root: str) -> list[str]:
    if name == "runc":
        return ["runc", "--root", root]
    return [sys.executable, "-m", "berth.runtime", "--root", root]


def shim_pids(shim_dir: str) -> list[int]:
    """Pids of shim processes serving `shim_dir` (found by their command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"berth.shim" in argv and shim_dir.encode() in argv:
            found.append(int(entry))
    return found


class Harness:
    """Bundles, shims and their clean-up for one test."""

    def __init__(self, base: Path, rootfs: Path, runtime_name: str) -> None:
        self.base = base
        self.rootfs = str(rootfs)
        self.runtime_name = runtime_name
        self.runtime_root = str(base / "rt")
        self.cgroup_parent = f"berth-shimtest-{uuid.uuid4().hex[:8]}"
        self.argv = runtime_argv(runtime_name, self.runtime_root)
        self.launcher = ShimLauncher(str(base / "shims"), self.argv)
        self.ids: list[str] = []

    def new_id(self) -> str:
        cid = uuid.uuid4().hex + uuid.uuid4().hex
        self.ids.append(cid)
        return cid

    def bundle(self, cid: str, args: list[str], tty: bool = False) -> str:
        bundle = self.base / "bundles" / cid[:12]
        bundle.mkdir(parents=True)
        cfg = oci_config(self.rootfs, args, tty=tty, cgroups_path=f"/{self.cgroup_parent}/{cid}")
        (bundle / "config.json").write_text(json.dumps(cfg))
        return str(bundle)

    def log_path(self, cid: str) -> str:
        return str(self.base / f"{cid}-json.log")

    def shim_dir(self, cid: str) -> str:
        return self.launcher.shim_dir(cid)

    def launch(
        self, args: list[str], *, stdin: bool = False, tty: bool = False, log_max_size: int = -1,
        log_max_files: int = 1,
    ) -> tuple[str, ShimClient, int]:
        """A new container with a shim; returns (id, client, init pid)."""
        cid = self.new_id()
        bundle = self.bundle(cid, args, tty)
        target = LogTarget(self.log_path(cid), log_max_size, log_max_files)
        client, pid = run(self.launcher.launch(cid, bundle, target, stdin, tty))
        return cid, client, pid

    def log_entries(self, cid: str) -> list[dict[str, str]]:
        with open(self.log_path(cid)) as f:
            return [json.loads(line) for line in f]

    def cleanup(self) -> None:
        for cid in self.ids:
            for pid in shim_pids(self.shim_dir(cid)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run([*self.argv, "delete", "--force", cid], capture_output=True, check=False)
        for hierarchy in os.listdir(CGROUP_ROOT):
            parent = os.path.join(CGROUP_ROOT, hierarchy, self.cgroup_parent)
            if os.path.isdir(parent):
                for child in os.listdir(parent):
                    if os.path.isdir(os.path.join(parent, child)):
                        os.rmdir(os.path.join(parent, child))
                os.rmdir(parent)
        shutil.rmtree(self.base / "shims", ignore_errors=True)


@pytest.fixture
def harness(tmp_path: Path, busybox_rootfs: Path, runtime_name: str) -> Iterator[Harness]:
    h = Harness(tmp_path, busybox_rootfs, runtime_name)
    try:
        yield h
    finally:
        h.cleanup()


@pytest.fixture
def berth_harness(tmp_path: Path, busybox_rootfs: Path) -> Iterator[Harness]:
    """A harness with Berth's own runtime only, for what only it does."""
    h = Harness(tmp_path, busybox_rootfs, "berth")
    try:
        yield h
    finally:
        h.cleanup()
