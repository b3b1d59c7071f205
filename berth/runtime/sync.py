"""Parent/child sync messages (runtime layer): JSON lines over two close-on-exec pipes.

    runtime (R)                  intermediate (C1)              init / exec process (C2)
        | -- fork ------------------> |
        |  (R puts C1 in the cgroups) |
        | -- {"go"} ----------------> |  setns / unshare
        |                             | -- fork -------------------> |
        | -- {"cgroups_made"} ------------------------------------> |  (init: its cgroup mounts)
        | <-- {"pid": host pid} ----- |  _exit(0)                    |  rootfs, console, user, caps
        | -- {"cgroups"} (init moved into them) ------------------> |  (init: needed before ready)
        | <-------------------------------------- {"ready"} or {"error": msg}
        |  (create returns; init blocks on exec.fifo until `start`)

An exec'd process has no C1 (`execjoin`): R forks it straight into the container's pid namespace, and reads
until EOF (it exec'd) or {"error"}; a process held before its exec (made ready at exec create) waits for
{"go"} first.

Each message is one write of less than PIPE_BUF bytes, so lines from C1 and C2 never interleave.
"""

from __future__ import annotations

import os

from berth.runtime import jsonc

__all__ = ["Channel", "pair"]

_MAX = 4000


class Channel:
    """One side of the sync pipes: reads from `rfd`, writes to `wfd`."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self._buf = b""
        self._seen: set[str] = set()

    def send(self, **msg: object) -> None:
        data = jsonc.dumps(msg).encode()
        if len(data) > _MAX:
            data = jsonc.dumps({k: (str(v)[:1000] if k == "error" else v) for k, v in msg.items()}).encode()
        os.write(self.wfd, data + b"\n")

    def recv(self) -> dict[str, object] | None:
        """The next message, or None at EOF (every writer closed its end)."""
        while b"\n" not in self._buf:
            chunk = os.read(self.rfd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        obj: dict[str, object] = jsonc.loads(line)
        return obj

    def wait_for(self, key: str) -> None:
        """Read messages until one carries `key` (others' flags are remembered); an error message raises."""
        while key not in self._seen:
            msg = self.recv()
            if msg is None:
                raise RuntimeError(f"parent went away before sending {key!r}")
            if "error" in msg:
                raise RuntimeError(str(msg["error"]))
            self._seen.update(k for k, v in msg.items() if v)

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass


def pair() -> tuple[Channel, Channel]:
    """(parent side, child side); every fd closes on exec."""
    down_r, down_w = os.pipe2(os.O_CLOEXEC)
    up_r, up_w = os.pipe2(os.O_CLOEXEC)
    return Channel(up_r, down_w), Channel(down_r, up_w)
