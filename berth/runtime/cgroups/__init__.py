"""Cgroups for containers (runtime layer): v1 hierarchies and cgroup2, found from /proc/self/mountinfo."""

from berth.runtime.cgroups.manager import Cgroups, resolve_path

__all__ = ["Cgroups", "resolve_path"]
