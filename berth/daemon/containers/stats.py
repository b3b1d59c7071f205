"""`docker stats`: a running container's resource usage read from its cgroup (v1 or v2) and its network
namespace, in dockerd's StatsJSON shape."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from berth.kernel.features import CgroupMount, cgroup_mounts
from berth.util.timefmt import ZERO_TIME, rfc3339nano

__all__ = ["CgroupReader", "empty_sample", "network_counters", "sample", "system_cpu_usage"]

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_NET_KEYS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors",
             "tx_dropped")
_NET_COLUMNS = (0, 1, 2, 3, 8, 9, 10, 11)  # of /proc/net/dev's 16 counters


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _int(text: str | None) -> int:
    try:
        return int((text or "").strip() or 0)
    except ValueError:
        return 0


def _key_values(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


class CgroupReader:
    """The files of one container's cgroup: each controller from its v1 hierarchy, else from cgroup2."""

    def __init__(self, path: str, mounts: list[CgroupMount] | None = None) -> None:
        mounts = cgroup_mounts() if mounts is None else mounts
        self.v1: dict[str, str] = {}
        self.v2: str | None = None
        for m in mounts:
            rel = path
            if m.root != "/" and (path == m.root or path.startswith(m.root + "/")):
                rel = path[len(m.root):] or "/"
            directory = os.path.join(m.mountpoint, rel.lstrip("/"))
            if m.version == 2:
                self.v2 = directory
            for controller in m.controllers:
                self.v1.setdefault(controller, directory)

    def file(self, controller: str, v1_name: str, v2_name: str) -> str | None:
        if controller in self.v1:
            return _read(os.path.join(self.v1[controller], v1_name))
        if self.v2 is not None:
            return _read(os.path.join(self.v2, v2_name))
        return None

    def cpu(self) -> dict[str, Any]:
        if "cpuacct" in self.v1:
            usage = _int(self.file("cpuacct", "cpuacct.usage", ""))
            percpu = [int(v) for v in (self.file("cpuacct", "cpuacct.usage_percpu", "") or "").split()]
            ticks = _key_values(self.file("cpuacct", "cpuacct.stat", ""))
            kernel, user = (ticks.get(k, 0) * 1_000_000_000 // _CLK_TCK for k in ("system", "user"))
            throttle = _key_values(self.file("cpu", "cpu.stat", "cpu.stat"))
            throttled_time = throttle.get("throttled_time", 0)
        else:
            stat = _key_values(self.file("cpu", "", "cpu.stat"))
            usage, kernel, user = (stat.get(k, 0) * 1000 for k in ("usage_usec", "system_usec", "user_usec"))
            percpu = []
            throttle = stat
            throttled_time = stat.get("throttled_usec", 0) * 1000
        cpu_usage: dict[str, Any] = {"total_usage": usage, "usage_in_kernelmode": kernel,
                                     "usage_in_usermode": user}
        if percpu:
            cpu_usage["percpu_usage"] = percpu
        return {"cpu_usage": cpu_usage, "system_cpu_usage": system_cpu_usage(),
                "online_cpus": len(os.sched_getaffinity(0)),
                "throttling_data": {"periods": throttle.get("nr_periods", 0),
                                    "throttled_periods": throttle.get("nr_throttled", 0),
                                    "throttled_time": throttled_time}}

    def memory(self) -> dict[str, Any]:
        if "memory" in self.v1:
            limit = _int(self.file("memory", "memory.limit_in_bytes", ""))
            return {"usage": _int(self.file("memory", "memory.usage_in_bytes", "")),
                    "max_usage": _int(self.file("memory", "memory.max_usage_in_bytes", "")),
                    "failcnt": _int(self.file("memory", "memory.failcnt", "")),
                    "stats": _key_values(self.file("memory", "memory.stat", "")), "limit": _host_limit(limit)}
        raw_max = (self.file("memory", "", "memory.max") or "").strip()
        return {"usage": _int(self.file("memory", "", "memory.current")),
                "stats": _key_values(self.file("memory", "", "memory.stat")),
                "limit": _host_limit(int(raw_max) if raw_max.isdigit() else 0)}

    def pids(self) -> dict[str, Any]:
        out: dict[str, Any] = {"current": _int(self.file("pids", "pids.current", "pids.current"))}
        limit = (self.file("pids", "pids.max", "pids.max") or "").strip()
        if limit.isdigit():
            out["limit"] = int(limit)
        return out

    def blkio(self) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        if "blkio" in self.v1:
            for line in (self.file("blkio", "blkio.throttle.io_service_bytes", "") or "").splitlines():
                parts = line.split()
                if len(parts) == 3 and ":" in parts[0]:
                    major, minor = parts[0].split(":")
                    entries.append({"major": int(major), "minor": int(minor), "op": parts[1],
                                    "value": int(parts[2])})
        else:
            for line in (self.file("io", "", "io.stat") or "").splitlines():
                device, *fields = line.split()
                if ":" not in device:
                    continue
                major, minor = device.split(":")
                values = dict(f.split("=", 1) for f in fields if "=" in f)
                for op, key in (("read", "rbytes"), ("write", "wbytes")):
                    entries.append({"major": int(major), "minor": int(minor), "op": op,
                                    "value": int(values.get(key, 0))})
        return {"io_service_bytes_recursive": entries or None}


def _host_limit(limit: int) -> int:
    """A limit above the machine's memory (no limit) shows as the machine's memory, as dockerd's does."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total if limit <= 0 or limit > total else limit


def system_cpu_usage() -> int:
    """The host's CPU time (the "cpu" line of /proc/stat, in nanoseconds), the base of the CLI's CPU %."""
    line = (_read("/proc/stat") or "cpu 0").splitlines()[0].split()
    return sum(int(v) for v in line[1:8]) * 1_000_000_000 // _CLK_TCK


def network_counters(pid: int) -> dict[str, dict[str, int]]:
    """Per interface of the network namespace of `pid` (but lo): dockerd's eight counters."""
    out: dict[str, dict[str, int]] = {}
    for line in (_read(f"/proc/{pid}/net/dev") or "").splitlines()[2:]:
        name, _, numbers = line.partition(":")
        name = name.strip()
        values = numbers.split()
        if name == "lo" or len(values) < 16:
            continue
        out[name] = {key: int(values[col]) for key, col in zip(_NET_KEYS, _NET_COLUMNS, strict=True)}
    return out


def sample(cid: str, name: str, reader: CgroupReader, pid: int, with_network: bool,
           previous: dict[str, Any] | None, clock: Callable[[], int]) -> dict[str, Any]:
    """One StatsJSON object; `previous` (the sample before) fills preread and precpu_stats."""
    doc: dict[str, Any] = {
        "read": rfc3339nano(clock()), "preread": previous["read"] if previous else ZERO_TIME,
        "name": f"/{name}", "id": cid, "num_procs": 0,
        "pids_stats": reader.pids(), "cpu_stats": reader.cpu(),
        "precpu_stats": previous["cpu_stats"] if previous else _empty_cpu(),
        "memory_stats": reader.memory(), "blkio_stats": reader.blkio(),
        "storage_stats": {},
    }
    if with_network:
        doc["networks"] = network_counters(pid)
    return doc


def _empty_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def empty_sample(cid: str, name: str) -> dict[str, Any]:
    """What dockerd answers for a container that does not run: zeros, read at the zero time."""
    return {"read": ZERO_TIME, "preread": ZERO_TIME, "name": f"/{name}", "id": cid, "num_procs": 0,
            "pids_stats": {}, "cpu_stats": _empty_cpu(), "precpu_stats": _empty_cpu(), "memory_stats": {},
            "blkio_stats": {"io_service_bytes_recursive": None}, "storage_stats": {}}
