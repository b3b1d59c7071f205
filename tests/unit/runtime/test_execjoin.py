"""execjoin's fd hygiene: the process an exec forks keeps its stdio, the sync pipes and the namespaces only."""

from __future__ import annotations

import os

from berth.runtime.execjoin import close_all_but


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _open_fds_after(keep_picker: int) -> tuple[set[int], set[int]]:
    """Fork; in the child open a few fds, keep every `keep_picker`-th, close the rest: (kept, left open)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(8)]
            keep = set(fds[::keep_picker]) | {w}
            close_all_but(3, keep)
            left = {fd for fd in range(256) if _is_open(fd)}
            os.write(w, f"{sorted(keep)}|{sorted(left)}".encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    kept, left = (set(map(int, filter(None, part.strip("[]").split(", ")))) for part in data.decode().split("|"))
    return kept, left


def test_close_all_but_keeps_stdio_and_what_was_asked() -> None:
    for picker in (1, 3, 8):
        kept, left = _open_fds_after(picker)
        assert left - {0, 1, 2} == kept
