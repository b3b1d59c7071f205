"""`docker update`: which HostConfig settings an update changes, and the cgroup limits a running container gets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from berth import errdefs
from berth.daemon.containers import spec
from berth.daemon.containers import spec_linux as lx

__all__ = ["UPDATABLE", "live_resources", "requested", "updated_host_config"]

# dockerd's UpdateContainer: a zero value leaves the setting as it is; PidsLimit is set whenever it is given
UPDATABLE = ("BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod",
             "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Memory", "MemorySwap", "MemoryReservation",
             "KernelMemory")


def requested(body: Mapping[str, Any]) -> dict[str, Any]:
    """The resource settings an update body changes; InvalidParameter for a value dockerd never takes (it checks
    them before it looks for the container)."""
    changed = {k: body[k] for k in UPDATABLE if body.get(k)}
    if body.get("PidsLimit") is not None:
        changed["PidsLimit"] = body["PidsLimit"]
    spec.validate_resources(changed)
    if (body.get("RestartPolicy") or {}).get("Name"):
        spec.validate_restart_policy(body)
    return changed


def updated_host_config(hc: Mapping[str, Any], body: Mapping[str, Any], changed: Mapping[str, Any]) -> dict[str, Any]:
    """The container's HostConfig `hc` with the update applied; Conflict for what does not fit what it has."""
    policy = body.get("RestartPolicy") or {}
    for mine, theirs in (("NanoCpus", "CpuPeriod"), ("NanoCpus", "CpuQuota")):
        if changed.get(mine) and hc.get(theirs):
            raise errdefs.Conflict(f"Conflicting options: Nano CPUs cannot be updated as {_WORDS[theirs]} has "
                                   "already been set")
        if changed.get(theirs) and hc.get(mine):
            raise errdefs.Conflict(f"Conflicting options: {_WORDS[theirs]} cannot be updated as NanoCPUs has "
                                   "already been set")
    swap = int(hc.get("MemorySwap") or 0)
    if "Memory" in changed and "MemorySwap" not in changed and 0 < swap < int(changed["Memory"]):
        raise errdefs.Conflict("Memory limit should be smaller than already set memoryswap limit, update the "
                               "memoryswap at the same time")
    new = {**hc, **changed}
    if policy.get("Name"):
        if hc.get("AutoRemove") and policy["Name"] != "no":
            raise errdefs.Conflict("Restart policy cannot be updated because AutoRemove is enabled for the "
                                   "container")
        new["RestartPolicy"] = {"Name": str(policy["Name"]), "MaximumRetryCount": int(
            policy.get("MaximumRetryCount") or 0)}
    return new


def live_resources(changed: Mapping[str, Any]) -> dict[str, Any]:
    """The OCI linux.resources that carry `changed` to a running container (no limit on pids is "max")."""
    res = lx.resources(changed)
    if "PidsLimit" in changed and int(changed["PidsLimit"]) <= 0:
        res["pids"] = {"limit": -1}
    return res


_WORDS = {"CpuPeriod": "CPU Period", "CpuQuota": "CPU Quota"}
