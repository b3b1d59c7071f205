"""The container's seccomp filter (runtime layer): compiled (or found in the cache) before the fork.

`linux.seccomp` absent, or with neither a default action nor syscalls, means no filter (as runc). The
program comes from `berth.seccomp.cache`, in `<dirname(root)>/berth-seccomp-cache` (a sibling of the state
root, so `list` and the state root hold containers only); `berth.runtime.init` loads it at runc's point.
"""

from __future__ import annotations

import os

from berth.kernel.seccomp import Program
from berth.runtime.errors import RuntimeFailure

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

    from berth.seccomp.filter import Filter

__all__ = ["cache_dir", "prepare"]


def cache_dir(root: str) -> str:
    """Where compiled filters are kept for the runtime state root `root`."""
    return os.path.join(os.path.dirname(os.path.abspath(root)), "berth-seccomp-cache")


def prepare(spec: dict[str, Any], root: str) -> Filter | None:
    """The compiled filter for the spec's `linux.seccomp`, or None when it asks for none."""
    sc = (spec.get("linux") or {}).get("seccomp")
    if not sc or (not sc.get("defaultAction") and not sc.get("syscalls")):
        return None
    from berth.seccomp.cache import cached_filter

    try:
        filt = cached_filter(sc, cache_dir(root))
    except (ValueError, TypeError) as e:  # RulesError is a ValueError (not imported: a cache hit needs no rules)
        raise RuntimeFailure(f"error loading seccomp filter: {e}") from None
    filt.loadable = Program(filt.program)  # built before the fork: the child that loads it copies fewer pages
    return filt
