"""The escape probe: built static from escape_probe.c, run inside containers, answers parsed."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "escape_probe.c")
SYSFS_CANDIDATES = ("/sys/kernel/profiling", "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/power/state")
# probes the capability set, masked/read-only paths, namespaces and the device cgroup deny on their own
DEFAULT_EXPECT: dict[str, set[str]] = {
    "mount": {"EPERM"},
    "sysrq": {"EROFS", "ENOENT"},  # ENOENT: a kernel without magic sysrq
    "procsys": {"EROFS"},
    "sysfs": {"EROFS"},
    "kcore": {"EMPTY", "ENOENT"},  # masked by /dev/null; ENOENT: a kernel without /proc/kcore
    "firmware": {"EMPTY", "ENOENT"},
    "mknod_blk": {"OK"},
    "open_blk": {"EPERM"},  # the device cgroup (the node itself is allowed: CAP_MKNOD)
    "init_module": {"EPERM", "ENOSYS"},  # ENOSYS: a kernel without modules
    "unshare_mnt": {"EPERM"},
    "ptrace": {"ESRCH"},  # host pids are not even visible
    "kexec": {"EPERM", "ENOSYS"},
    "reboot": {"EPERM"},
    "swapon": {"EPERM"},
    "sethostname": {"EPERM"},
    "iopl": {"EPERM", "ENOSYS"},
    "open_by_handle": {"EPERM"},
}
# what --privileged opens (documented: mounts, writable /proc/sys and /sys, every capability); the safe probes only
PRIVILEGED_EXPECT: dict[str, set[str]] = {
    "mount": {"OK"},
    "sysrq": {"OK", "ENOENT"},
    "procsys": {"OK"},
    "sysfs": {"OK"},
    "mknod_blk": {"OK"},
    "open_blk": {"OK", "EMPTY"},
    "unshare_mnt": {"OK"},
    "unshare_user": {"OK"},
    "ptrace": {"ESRCH"},
    "kexec": {"EINVAL", "ENOSYS"},  # past the capability check, refused for its arguments
    "reboot": {"EINVAL"},
    "swapon": {"ENOENT"},
    "sethostname": {"OK"},
    "iopl": {"OK", "ENOSYS"},
}


def _sysctl(name: str) -> int:
    try:
        with open("/proc/sys/" + name.replace(".", "/")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError):
        return 0


def seccomp_only_probes() -> list[str]:
    """Probes that only a seccomp profile denies on this host (Docker's profile answers EPERM to each)."""
    out = ["unshare_user", "keyctl"]
    if _sysctl("kernel.unprivileged_bpf_disabled") == 0:
        out.append("bpf")
    if _sysctl("kernel.perf_event_paranoid") < 3:
        out.append("perf")
    return out


def cap_only_expect() -> dict[str, set[str]]:
    out = dict(DEFAULT_EXPECT)
    if "bpf" not in seccomp_only_probes():
        out["bpf"] = {"EPERM"}
    if "perf" not in seccomp_only_probes():
        out["perf"] = {"EPERM", "EACCES"}
    return out


def host_disk() -> tuple[int, int]:
    """major, minor of a host block device the host itself can open: its first disk, else loop0."""
    candidates = []
    with open("/proc/partitions") as f:
        for line in f.read().splitlines()[2:]:
            parts = line.split()
            if len(parts) == 4:
                candidates.append((f"/dev/{parts[3]}", int(parts[0]), int(parts[1])))
    candidates.append(("/dev/loop0", 7, 0))
    for path, major, minor in candidates:
        try:
            os.close(os.open(path, os.O_RDONLY))
        except OSError:
            continue
        return major, minor
    pytest.fail("no host block device that the host itself can open")


def sysfs_file() -> str:
    for path in SYSFS_CANDIDATES:
        if os.path.exists(path):
            return path
    pytest.fail(f"none of {SYSFS_CANDIDATES} on this host")


def build(dest_dir: str) -> str:
    """Compile the probe statically (gcc and glibc's static libc are test dependencies)."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("gcc is needed to build the escape probe (apt-get install gcc libc6-dev)")
    out = os.path.join(dest_dir, "escape_probe")
    res = subprocess.run([gcc, "-static", "-O1", "-o", out, SOURCE], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return out


def script(host_pid: int, ops: list[str] | None = None) -> str:
    """A shell script running every probe in /probe (or `ops`)."""
    major, minor = host_disk()
    args = {"sysfs": sysfs_file(), "blockdev": f"{major} {minor}", "ptrace": str(host_pid)}
    names = ops or [*DEFAULT_EXPECT, "unshare_user", "keyctl", "bpf", "perf"]
    calls = []
    for name in dict.fromkeys("blockdev" if n in ("mknod_blk", "open_blk") else n for n in names):
        calls.append(f"/probe {name} {args.get(name, '')}")
    return "; ".join(calls)


def parse(out: str) -> dict[str, str]:
    answers = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.replace("_", "").isalnum():
            answers[key] = value.strip()
    return answers
