"""Linux parts of the OCI spec from a HostConfig: caps, namespaces, devices, sysctls, rlimits, cgroups."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from berth import errdefs
from berth.kernel.caps import CAP_NAMES

__all__ = [
    "DEFAULT_CAPS",
    "DEFAULT_DEVICE_RULES",
    "DeviceStat",
    "all_capabilities",
    "default_capabilities",
    "check_rlimits_grantable",
    "custom_devices",
    "device_cgroup_rules",
    "grantable_rlimit",
    "host_devices",
    "namespaces",
    "normalize_caps",
    "resources",
    "rlimits",
    "stat_device",
    "tweak_capabilities",
    "validate_sysctls",
]

DEFAULT_CAPS: tuple[str, ...] = tuple(f"CAP_{n}" for n in (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
    "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
))  # fmt: skip


def _rule(allow: bool, major: int | None, minor: int | None) -> dict[str, Any]:
    rule: dict[str, Any] = {"allow": allow}
    if major is not None:
        rule.update({"type": "c", "major": major, "minor": minor})
    rule["access"] = "rwm"
    return rule


DEFAULT_DEVICE_RULES: tuple[dict[str, Any], ...] = (
    _rule(False, None, None),
    *(_rule(True, ma, mi) for ma, mi in ((1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1))),
    _rule(False, 10, 229),
)
_RLIMITS = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
            "nproc", "rss", "rtprio", "rttime", "sigpending", "stack")
_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
DeviceStat = tuple[str, int, int, int, int, int]  # type, major, minor, mode bits, uid, gid


def _bounding_mask() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None


def all_capabilities(mask: int | None = None) -> list[str]:
    """The capabilities available here (docker's privileged set): those in our bounding set.

    `mask` is a capability bit mask; by default this process's bounding set.
    """
    if mask is None:
        mask = _bounding_mask()
    if mask is None:
        mask = (1 << len(CAP_NAMES)) - 1
    return [f"CAP_{n}" for i, n in enumerate(CAP_NAMES) if mask >> i & 1]


def normalize_caps(names: Sequence[str], field: str, known: Sequence[str]) -> list[str]:
    """Upper-case, CAP_-prefixed names; "ALL" kept; unknown names are docker's error."""
    out = []
    for raw in names:
        name = raw.upper()
        if name != "ALL":
            name = name if name.startswith("CAP_") else "CAP_" + name
            if name not in known:
                raise errdefs.InvalidParameter(f'invalid {field}: unknown capability: "{name}"')
        out.append(name)
    return out


def default_capabilities() -> list[str]:
    """The bounding set of a container that asks for nothing: Docker's default set."""
    return tweak_capabilities([], [], False, all_capabilities())


def tweak_capabilities(adds: Sequence[str], drops: Sequence[str], privileged: bool,
                       known: Sequence[str]) -> list[str]:
    """Docker's TweakCapabilities: the default set, minus CapDrop, plus CapAdd ("ALL" in either)."""
    if privileged:
        return list(known)
    add = normalize_caps(adds, "CapAdd", known)
    drop = normalize_caps(drops, "CapDrop", known)
    if "ALL" in add:
        caps = [c for c in known if c not in drop]
    elif "ALL" in drop:
        caps = list(add)
    else:
        caps = [c for c in DEFAULT_CAPS if c not in drop] + add
    return list(dict.fromkeys(caps))


def _ns_entry(kind: str, mode: str, label: str, ns_paths: Mapping[str, str]) -> dict[str, str] | None:
    """None = share the host's; {"type"} = new; {"type","path"} = join another container's."""
    if mode == "host":
        return None
    if kind in ns_paths:  # joined by path: another container's, or the sandbox the network service made
        return {"type": kind, "path": ns_paths[kind]}
    if mode.startswith("container:"):
        target = mode.split(":", 1)[1]
        if kind not in ns_paths:
            raise errdefs.Conflict(f"cannot join {label} of a non running container: {target}")
        return {"type": kind, "path": ns_paths[kind]}
    return {"type": kind}


def namespaces(hc: Mapping[str, Any], ns_paths: Mapping[str, str]) -> list[dict[str, str]]:
    """mount, network, uts, pid, ipc (docker's order), minus the host-shared ones; cgroup when private."""
    out: list[dict[str, str]] = [{"type": "mount"}]
    wanted = (
        ("network", str(hc.get("NetworkMode") or "bridge"), "network"),
        ("uts", str(hc.get("UTSMode") or ""), "UTS"),
        ("pid", str(hc.get("PidMode") or ""), "PID"),
        ("ipc", str(hc.get("IpcMode") or ""), "IPC"),
    )
    for kind, mode, label in wanted:
        entry = _ns_entry(kind, mode, label, ns_paths)
        if entry is not None:
            out.append(entry)
    if hc.get("CgroupnsMode") == "private":
        out.append({"type": "cgroup"})
    return out


def validate_sysctls(sysctls: Mapping[str, str], hc: Mapping[str, Any]) -> None:
    """Only namespaced sysctls, and not in a namespace shared with the host."""
    net_host = (hc.get("NetworkMode") or "") == "host"
    ipc_host = (hc.get("IpcMode") or "") == "host"
    uts_host = (hc.get("UTSMode") or "") == "host"
    for key in sysctls:
        if key.startswith("net."):
            if net_host:
                raise errdefs.InvalidParameter(f'sysctl "{key}" not allowed in host network namespace')
        elif key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if ipc_host:
                raise errdefs.InvalidParameter(f'sysctl "{key}" not allowed in host IPC namespace')
        elif key in ("kernel.domainname", "kernel.hostname"):
            if uts_host:
                raise errdefs.InvalidParameter(f'sysctl "{key}" not allowed in host UTS namespace')
        else:
            raise errdefs.InvalidParameter(f"sysctl '{key}' is not allowed")


def rlimits(ulimits: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """HostConfig.Ulimits [{Name, Soft, Hard}] as OCI rlimits; the first of a name wins."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ul in ulimits:
        name = str(ul.get("Name") or "")
        if name not in _RLIMITS:
            raise errdefs.InvalidParameter(f"invalid ulimit type: {name}")
        soft, hard = int(ul.get("Soft") or 0), int(ul.get("Hard") or 0)
        if soft > hard:
            raise errdefs.InvalidParameter(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )
        if name not in seen:
            seen.add(name)
            out.append({"type": f"RLIMIT_{name.upper()}", "hard": hard, "soft": soft})
    return out


def _has_cap(cap: int) -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> cap & 1)
    except (OSError, ValueError):
        pass
    return False


def grantable_rlimit(name: str) -> int | None:
    """The highest hard limit the daemon's processes can set for `name` (None: no bound known)."""
    import resource

    if _has_cap(24):  # CAP_SYS_RESOURCE: only the kernel's own ceilings remain
        if name != "nofile":
            return None
        with open("/proc/sys/fs/nr_open") as f:
            return int(f.read())
    hard = resource.getrlimit(getattr(resource, f"RLIMIT_{name.upper()}"))[1]
    return None if hard == resource.RLIM_INFINITY else hard


def check_rlimits_grantable(ulimits: Sequence[Mapping[str, Any]],
                            limit_of: Callable[[str], int | None] = grantable_rlimit) -> None:
    """A ulimit above what the daemon can grant is refused at create (runc would fail to set it at start)."""
    for ul in ulimits:
        name, hard = str(ul.get("Name") or ""), int(ul.get("Hard") or 0)
        limit = limit_of(name)
        if limit is not None and (hard < 0 or hard > limit):
            raise errdefs.InvalidParameter(
                f"ulimit {name}: hard limit {hard} is above what the daemon can grant ({limit})"
            )


def stat_device(path: str) -> DeviceStat:
    """A host device node's type, numbers, permission bits and owner."""
    st = os.stat(path)
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise errdefs.InvalidParameter(
            f'error gathering device information while adding custom device "{path}": not a device node'
        )
    return kind, os.major(st.st_rdev), os.minor(st.st_rdev), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


_SKIP_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """Every device node under `root` (what a privileged container gets), runc's walk and skips."""
    out: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name == "console":
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                out.append({"path": path, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                            "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    return out


def _go_strerror(exc: OSError) -> str:
    """Go's text for an errno (lower-case, as moby prints it)."""
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return text[:1].lower() + text[1:]


def _device_nodes(host: str, inside: str, stat_fn: Callable[[str], DeviceStat]) -> list[dict[str, Any]]:
    """The node at `host`, or every node under it when it is a directory (moby's DevicesFromPath)."""
    try:
        kind, major, minor, mode, uid, gid = stat_fn(host)
    except errdefs.InvalidParameter:
        if not os.path.isdir(host):
            raise
        found = [dict(d, path=inside + d["path"][len(host.rstrip("/")):]) for d in host_devices(host)]
        if not found:
            raise
        return found
    except OSError as exc:
        raise errdefs.InvalidParameter(
            f'error gathering device information while adding custom device "{host}": {_go_strerror(exc)}'
        ) from None
    return [{"path": inside, "type": kind, "major": major, "minor": minor, "fileMode": mode, "uid": uid,
             "gid": gid}]


def custom_devices(devices: Sequence[Mapping[str, Any]],
                   stat_fn: Callable[[str], DeviceStat]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """HostConfig.Devices as (linux.devices, cgroup allow rules)."""
    nodes, rules = [], []
    for dev in devices:
        host = str(dev.get("PathOnHost") or "")
        inside = str(dev.get("PathInContainer") or host)
        perms = str(dev.get("CgroupPermissions") or "rwm")
        if not host.startswith("/") or not inside.startswith("/"):
            raise errdefs.InvalidParameter(f"{host}:{inside} is not an absolute path")
        if not perms or any(ch not in "rwm" for ch in perms):
            raise errdefs.InvalidParameter(f"invalid device cgroup permissions: {perms}")
        for node in _device_nodes(host, inside, stat_fn):
            nodes.append(node)
            rules.append({"allow": True, "type": node["type"], "major": node["major"], "minor": node["minor"],
                          "access": perms})
    return nodes, rules


_CGROUP_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def device_cgroup_rules(rules: Sequence[str]) -> list[dict[str, Any]]:
    """HostConfig.DeviceCgroupRules ("c 1:3 rwm") as OCI allow rules, with moby's error text."""
    out: list[dict[str, Any]] = []
    for text in rules:
        m = _CGROUP_RULE.match(text)
        if m is None and text != "a":
            raise errdefs.InvalidParameter(f"invalid device cgroup rule format: '{text}'")
        if m is None or m.group(1) == "a":
            if text != "a" and not re.match(r"^a \*:\* [rwm]{3}$", text):
                raise errdefs.InvalidParameter(
                    "although this cgroup rule is technically correct, because 'a' maps to 'a *:* rwm' regardless "
                    f"of what comes next, this format is partially ineffective: '{text}'"
                )
            out.append({"allow": True, "type": "a", "access": "rwm"})
            continue
        kind, major, minor, access = m.groups()
        rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
        if major != "*":
            rule["major"] = int(major)
        if minor != "*":
            rule["minor"] = int(minor)
        out.append(rule)
    return out


def resources(hc: Mapping[str, Any]) -> dict[str, Any]:
    """Cgroup limits from HostConfig (memory, cpu, pids, blkio); devices are added by the caller."""
    out: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    if hc.get("Memory"):
        memory["limit"] = int(hc["Memory"])
    if hc.get("MemoryReservation"):
        memory["reservation"] = int(hc["MemoryReservation"])
    if hc.get("MemorySwap"):
        memory["swap"] = int(hc["MemorySwap"])
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and int(swappiness) >= 0:
        memory["swappiness"] = int(swappiness)
    if hc.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if memory:
        out["memory"] = memory
    cpu: dict[str, Any] = {}
    if hc.get("CpuShares"):
        cpu["shares"] = int(hc["CpuShares"])
    if hc.get("NanoCpus"):
        cpu["period"] = 100000
        cpu["quota"] = int(hc["NanoCpus"]) * 100000 // 1_000_000_000
    else:
        if hc.get("CpuQuota"):
            cpu["quota"] = int(hc["CpuQuota"])
        if hc.get("CpuPeriod"):
            cpu["period"] = int(hc["CpuPeriod"])
    for key, name in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        if hc.get(key):
            cpu[name] = str(hc[key])
    if cpu:
        out["cpu"] = cpu
    pids = hc.get("PidsLimit")
    if pids is not None and int(pids) > 0:
        out["pids"] = {"limit": int(pids)}
    if hc.get("BlkioWeight"):
        out["blockIO"] = {"weight": int(hc["BlkioWeight"])}
    return out
