"""Mount targets the runtime leaves in a container's writable layer for its /etc/hosts, /etc/hostname and
/etc/resolv.conf: dockerd keeps those in an init layer under the container's own, so `docker diff` and
`docker commit` never show them; neither do ours."""

from __future__ import annotations

import os
import stat

__all__ = ["PLACEHOLDERS", "placeholders"]

PLACEHOLDERS = frozenset(("etc/hosts", "etc/hostname", "etc/resolv.conf"))


def placeholders(upper: str) -> frozenset[str]:
    """Paths under the upper dir `upper` (relative) that are only placeholders: those files while empty, and
    the directories that hold nothing else."""
    found: set[str] = set()
    for rel in PLACEHOLDERS:
        try:
            st = os.lstat(os.path.join(upper, rel))
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            found.add(rel)
    for parent in sorted({os.path.dirname(rel) for rel in found}, key=len, reverse=True):
        while parent:
            try:
                children = os.listdir(os.path.join(upper, parent))
            except OSError:
                break
            if not all(os.path.join(parent, child) in found for child in children):
                break
            found.add(parent)
            parent = os.path.dirname(parent)
    return frozenset(found)
