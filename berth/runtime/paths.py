"""Path helpers for the container side (runtime layer): symlink-safe joins under the rootfs."""

from __future__ import annotations

import os
import stat

from berth.runtime.errors import RuntimeFailure

__all__ = ["ensure_dir", "ensure_file", "secure_join"]


def secure_join(root: str, unsafe: str) -> str:
    """`unsafe` resolved under `root` as if `root` were `/`: symlinks and `..` never leave it."""
    root = root.rstrip("/") or "/"
    todo = [p for p in unsafe.split("/") if p]
    cur: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if cur:
                cur.pop()
            continue
        full = os.path.join(root, *cur, part)
        try:
            st = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            cur.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 255:
                raise RuntimeFailure(f"too many symlinks resolving {unsafe} in {root}")
            target = os.readlink(full)
            if target.startswith("/"):
                cur = []
            todo = [p for p in target.split("/") if p] + todo
        else:
            cur.append(part)
    return os.path.join(root, *cur)


def ensure_dir(path: str) -> None:
    """mkdir -p."""
    os.makedirs(path, 0o755, exist_ok=True)


def ensure_file(path: str) -> None:
    """Create an empty file (and its parents) to bind-mount a file onto."""
    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o755))
