"""`docker diff`: what a container's writable layer changed relative to its image (Kind 0/1/2)."""

from __future__ import annotations

import os
import stat

from berth.store.snapshots.placeholders import placeholders

__all__ = ["changes"]

MODIFIED, ADDED, DELETED = 0, 1, 2


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _in_lowers(rel: str, lowers: list[str]) -> bool:
    return any(os.path.lexists(os.path.join(lower, rel)) for lower in lowers)


def changes(upper: str, lowers: list[str]) -> list[dict[str, object]]:
    """Walks the overlay upper dir; whiteouts are deletions, entries also in a lower layer are changes; the
    runtime's mount placeholders are not changes."""
    hidden = placeholders(upper)
    out: list[dict[str, object]] = []
    for root, dirs, files in os.walk(upper):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, upper)
            if rel in hidden:
                continue
            st = os.lstat(full)
            if _is_whiteout(st):
                kind = DELETED
            elif _in_lowers(rel, lowers):
                kind = MODIFIED
            else:
                kind = ADDED
            out.append({"Path": "/" + rel, "Kind": kind})
    out.sort(key=lambda change: str(change["Path"]).split("/"))  # depth first, as dockerd walks the layer
    return out
