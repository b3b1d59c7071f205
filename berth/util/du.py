"""What a directory tree takes on disk: bytes of its non-directories and its inode count, hardlinks once."""

from __future__ import annotations

import os
import stat

__all__ = ["tree_usage"]


def tree_usage(top: str) -> tuple[int, int]:
    """(bytes, inodes) under `top` (itself not counted); entries that vanish meanwhile are skipped."""
    seen: set[tuple[int, int]] = set()
    size = inodes = 0
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            inodes += 1
            size += 0 if stat.S_ISDIR(st.st_mode) else st.st_size
    return size, inodes
