"""Feature probes (kernel layer): cgroup mounts from /proc/self/mountinfo, and our own cgroup in them."""

from __future__ import annotations

import os

__all__ = ["CgroupMount", "cgroup_mounts", "own_procs_file"]


class CgroupMount:
    """One cgroup hierarchy: mount point, mount root, controllers (empty tuple for cgroup2), super options."""

    __slots__ = ("controllers", "mountpoint", "options", "root", "version")

    def __init__(self, mountpoint: str, root: str, version: int, controllers: tuple[str, ...],
                 options: tuple[str, ...] = ()) -> None:
        self.mountpoint = mountpoint
        self.root = root
        self.version = version
        self.controllers = controllers
        self.options = options

    def __repr__(self) -> str:
        return f"CgroupMount({self.mountpoint!r}, v{self.version}, {self.controllers})"


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def parse_mountinfo_cgroups(text: str) -> list[CgroupMount]:
    """The cgroup hierarchies listed in a mountinfo text (first mount of each hierarchy wins)."""
    found: list[CgroupMount] = []
    seen: set[tuple[str, ...]] = set()
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        if not sep:
            continue
        fields, tail = pre.split(), post.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        if tail[0] == "cgroup2":
            key: tuple[str, ...] = ("",)
            ctrls: tuple[str, ...] = ()
            version = 2
        else:
            known = {"rw", "ro", "clone_children", "noprefix", "xattr", "cpuset_v2_mode", "nsdelegate", "favordynmods"}
            ctrls = tuple(o for o in tail[2].split(",") if o not in known and not o.startswith("release_agent="))
            key, version = ctrls, 1
        if key in seen:
            continue
        seen.add(key)
        found.append(CgroupMount(_unescape(fields[4]), _unescape(fields[3]), version, ctrls, tuple(tail[2].split(","))))
    return found


def cgroup_mounts() -> list[CgroupMount]:
    """The cgroup hierarchies of this mount namespace."""
    with open("/proc/self/mountinfo") as f:
        return parse_mountinfo_cgroups(f.read())


def own_procs_file(proc_cgroup: str, mounts: list[CgroupMount]) -> str | None:
    """The cgroup.procs of the cgroup this process is in, from /proc/self/cgroup's text and the mounts.

    cgroup2 is preferred (one line, no controllers to match); else the first v1 hierarchy that is mounted."""
    paths: dict[frozenset[str], str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            paths[frozenset(c for c in parts[1].split(",") if c)] = parts[2]
    ordered = sorted(mounts, key=lambda m: m.version != 2)
    for m in ordered:
        path = paths.get(frozenset(m.controllers))
        if path is None:
            continue
        if m.root != "/" and (path == m.root or path.startswith(m.root + "/")):
            path = path[len(m.root):] or "/"
        elif m.root != "/":
            continue  # our cgroup is outside what this mount shows
        return os.path.join(m.mountpoint, path.lstrip("/"), "cgroup.procs")
    return None
