"""Kernel same-page merging (kernel layer): mark a process's private memory mergeable, read whether ksmd runs.

A forked CPython process copies every page on which it touches an object (reference counts, code objects'
warm-up counters), so pages that were shared after the fork soon are not. Copies made by the same code in
several forks of one parent hold the same bytes, and ksmd (when the host runs it) merges them back.
MADV_MERGEABLE is a property of the mappings, kept across fork and dropped by execve: the processes a marked
process execs, such as a container's, are never merged.
"""

from __future__ import annotations

import ctypes

from berth.kernel.libc import LIBC

__all__ = ["KSM_RUN", "ksm_running", "mark_mergeable", "mergeable_regions"]

MADV_MERGEABLE = 12
KSM_RUN = "/sys/kernel/mm/ksm/run"
_SKIPPED = ("[stack]", "[vvar]", "[vdso]", "[vsyscall]")


def mergeable_regions(maps: str) -> list[tuple[int, int]]:
    """(start, length) of the private writable mappings in a /proc/PID/maps text: the heap, anonymous memory
    and libraries' data; never the stack or the kernel's own pages."""
    regions = []
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 5 or fields[1][:2] != "rw" or fields[1][3:4] != "p":
            continue
        if len(fields) == 6 and fields[5].strip() in _SKIPPED:
            continue
        lo, _, hi = fields[0].partition("-")
        start, end = int(lo, 16), int(hi, 16)
        if end > start:
            regions.append((start, end - start))
    return regions


def mark_mergeable() -> int:
    """Mark this process's private writable memory mergeable; the bytes marked (0 without KSM in the kernel)."""
    try:
        with open("/proc/self/maps") as f:
            regions = mergeable_regions(f.read())
    except OSError:
        return 0
    marked = 0
    for start, length in regions:
        if LIBC.madvise(ctypes.c_void_p(start), length, MADV_MERGEABLE) == 0:
            marked += length
    return marked


def ksm_running(path: str = KSM_RUN) -> bool:
    """True when ksmd merges pages on this host (run = 1)."""
    try:
        with open(path) as f:
            return f.read().strip() == "1"
    except OSError:
        return False
