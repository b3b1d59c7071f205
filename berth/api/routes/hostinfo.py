"""Facts about the host read from /proc, /sys and /etc for /info and /version (no side effects)."""

from __future__ import annotations

import os
import platform

__all__ = [
    "backing_filesystem",
    "cgroup_version",
    "go_arch",
    "ipv4_forwarding",
    "kernel_version",
    "mem_total",
    "ncpu",
    "open_fds",
    "os_release",
    "python_version",
]

_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le"}
_FS_NAMES = {
    "ext2": "extfs",
    "ext3": "extfs",
    "ext4": "extfs",
    "xfs": "xfs",
    "btrfs": "btrfs",
    "tmpfs": "tmpfs",
}


def kernel_version() -> str:
    return os.uname().release


def go_arch() -> str:
    machine = os.uname().machine
    return _GO_ARCH.get(machine, machine)


def os_release(path: str = "/etc/os-release") -> dict[str, str]:
    """/etc/os-release as a dict (quotes removed); empty if missing."""
    out: dict[str, str] = {}
    try:
        with open(path) as f:
            for line in f:
                key, eq, value = line.strip().partition("=")
                if eq and key and not key.startswith("#"):
                    out[key] = value.strip().strip("\"'")
    except OSError:
        pass
    return out


def ncpu() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def mem_total(path: str = "/proc/meminfo") -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cgroup_version(root: str = "/sys/fs/cgroup") -> str:
    """ "2" on a unified (cgroup2-only) host, else "1" (legacy and hybrid hosts)."""
    return "2" if os.path.exists(os.path.join(root, "cgroup.controllers")) else "1"


def ipv4_forwarding() -> bool:
    try:
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def backing_filesystem(path: str, mountinfo: str = "/proc/self/mountinfo") -> str:
    """Docker's name for the filesystem holding `path` ("extfs", "xfs", ...), by longest mount prefix."""
    path = os.path.realpath(path)
    while not os.path.exists(path) and path != "/":
        path = os.path.dirname(path)
    best, fstype = "", "<unknown>"
    try:
        with open(mountinfo) as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) < 5 or not right:
                    continue
                mnt = fields[4].replace("\\040", " ")
                inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
                if inside and len(mnt) >= len(best):
                    best, fstype = mnt, right.split()[0]
    except OSError:
        pass
    return _FS_NAMES.get(fstype, fstype)


def python_version() -> str:
    return f"python{platform.python_version()}"
