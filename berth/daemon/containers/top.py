"""`docker top`: runs ps on the host and keeps the rows of processes in the container's cgroup."""

from __future__ import annotations

import asyncio
import os

from berth import errdefs

__all__ = ["cgroup_pids", "top"]


def _mountpoints() -> dict[str, str]:
    """cgroup mount points keyed by "unified" or by v1 controller name."""
    points: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = right.split()
            if not fields:
                continue
            mnt = left.split()[4]
            if fields[0] == "cgroup2":
                points.setdefault("unified", mnt)
            elif fields[0] == "cgroup":
                for opt in fields[2].split(","):
                    points.setdefault(opt.removeprefix("name="), mnt)
    return points


def cgroup_pids(init_pid: int) -> set[int]:
    """Every pid in the cgroup of `init_pid` (cgroup2 if it is placed there, else the v1 pids controller)."""
    try:
        with open(f"/proc/{init_pid}/cgroup") as f:
            lines = [line.rstrip("\n").split(":", 2) for line in f]
    except FileNotFoundError:
        return set()
    points = _mountpoints()
    candidates = []
    for _, controllers, path in lines:
        if controllers == "" and "unified" in points and path != "/":
            candidates.append(os.path.join(points["unified"], path.lstrip("/")))
        for ctl in ("pids", "memory", "cpu", "freezer"):
            if ctl in controllers.split(",") and ctl in points:
                candidates.append(os.path.join(points[ctl], path.lstrip("/")))
    for directory in candidates:
        try:
            with open(os.path.join(directory, "cgroup.procs")) as f:
                return {int(x) for x in f.read().split()}
        except (FileNotFoundError, ValueError):
            continue
    return {init_pid}


async def top(init_pid: int, ps_args: str) -> dict[str, object]:
    """Docker's top reply: {"Titles": [...], "Processes": [[...], ...]}."""
    args = ps_args.split() if ps_args else ["-ef"]
    proc = await asyncio.create_subprocess_exec(
        "ps", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise errdefs.System(f"ps: {err.decode(errors='replace').strip()}")
    lines = out.decode(errors="replace").splitlines()
    if not lines:
        raise errdefs.System("ps printed nothing")
    titles = lines[0].split()
    try:
        pid_col = titles.index("PID")
    except ValueError:
        raise errdefs.InvalidParameter("Couldn't find PID field in ps output") from None
    pids = cgroup_pids(init_pid)
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
            rows.append(fields)
    return {"Titles": titles, "Processes": rows}
