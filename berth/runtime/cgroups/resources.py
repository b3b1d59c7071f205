"""linux.resources -> cgroup files (runtime layer): memory, cpu, cpuset, pids, blkio weight, devices; v1 and v2."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

    from berth.runtime.cgroups.manager import Cgroups

__all__ = ["apply", "enable_v2_controllers"]


def _write(d: str, name: str, value: object) -> None:
    path = os.path.join(d, name)
    if os.path.exists(path):
        with open(path, "w") as f:
            f.write(str(value))


def _find(cg: Cgroups, controller_file: str) -> str | None:
    for d in cg.dirs:
        if d != cg.v2_dir and os.path.exists(os.path.join(d, controller_file)):
            return d
    return None


def enable_v2_controllers(d: str) -> None:
    """Enable each available controller in every ancestor's subtree_control (pure cgroup v2), one by one."""
    parts = d.rstrip("/").split("/")
    for i in range(4, len(parts)):
        parent = "/".join(parts[:i])
        try:
            with open(os.path.join(parent, "cgroup.controllers")) as f:
                ctrls = f.read().split()
        except OSError:
            continue
        for ctrl in ctrls:
            try:
                with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
                    f.write("+" + ctrl)
            except OSError:
                continue


def _apply_v1(cg: Cgroups, res: dict[str, Any]) -> None:
    mem, cpu, pids = res.get("memory") or {}, res.get("cpu") or {}, res.get("pids") or {}
    if (d := _find(cg, "memory.limit_in_bytes")) is not None:
        if mem.get("limit"):
            _write(d, "memory.limit_in_bytes", mem["limit"])
        if mem.get("swap"):
            _write(d, "memory.memsw.limit_in_bytes", mem["swap"])
        if mem.get("reservation"):
            _write(d, "memory.soft_limit_in_bytes", mem["reservation"])
    if (d := _find(cg, "cpu.shares")) is not None:
        for key, name in (
            ("shares", "cpu.shares"),
            ("period", "cpu.cfs_period_us"),
            ("quota", "cpu.cfs_quota_us"),
        ):
            if cpu.get(key):
                _write(d, name, cpu[key])
    if (d := _find(cg, "cpuset.cpus")) is not None:
        for key in ("cpus", "mems"):
            if cpu.get(key):
                _write(d, f"cpuset.{key}", cpu[key])
    if (d := _find(cg, "pids.max")) is not None and pids.get("limit"):
        _write(d, "pids.max", pids["limit"] if pids["limit"] > 0 else "max")


def _apply_v2(d: str, res: dict[str, Any]) -> None:
    mem, cpu, pids = res.get("memory") or {}, res.get("cpu") or {}, res.get("pids") or {}
    if mem.get("limit"):
        _write(d, "memory.max", mem["limit"] if mem["limit"] > 0 else "max")
        if mem.get("swap"):
            swap = mem["swap"] - mem["limit"] if mem["swap"] > 0 else "max"
            _write(d, "memory.swap.max", swap)
    if cpu.get("shares"):
        _write(d, "cpu.weight", 1 + ((int(cpu["shares"]) - 2) * 9999) // 262142)
    if cpu.get("quota"):
        _write(d, "cpu.max", f"{cpu['quota'] if cpu['quota'] > 0 else 'max'} {cpu.get('period') or 100000}")
    for key in ("cpus", "mems"):
        if cpu.get(key):
            _write(d, f"cpuset.{key}", cpu[key])
    if pids.get("limit"):
        _write(d, "pids.max", pids["limit"] if pids["limit"] > 0 else "max")


def _apply_devices(cg: Cgroups, devices: list[dict[str, Any]]) -> None:
    from berth.runtime.cgroups import devices as devcg

    d = None if cg.pure_v2 else _find(cg, "devices.allow")
    if d is not None:
        devcg.apply_v1(d, devices)
    elif cg.v2_dir:  # pure v2, or a hybrid host without the v1 devices controller: the eBPF filter
        devcg.apply_v2(cg.v2_dir, devices)


def apply(cg: Cgroups, res: dict[str, Any]) -> None:
    """Write the limits of `res` into the container's cgroups (devices only when `res` has the key)."""
    if cg.pure_v2 and cg.v2_dir:
        _apply_v2(cg.v2_dir, res)
    else:
        _apply_v1(cg, res)
    if "devices" in res:
        _apply_devices(cg, list(res["devices"] or []))
