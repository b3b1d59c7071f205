"""Container state on disk (runtime layer): <root>/<id>/state.json, exec.fifo, and the derived status."""

from __future__ import annotations

import os
import time

from berth.runtime import jsonc
from berth.runtime.errors import RuntimeFailure

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Container", "process_start_time", "rfc3339_now"]

OCI_VERSION = "1.0.2"


def rfc3339_now() -> str:
    """Current UTC time as Go's RFC3339Nano."""
    ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return (f"{base}.{frac:09d}".rstrip("0") if frac else base) + "Z"


def process_start_time(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks, state letter) from /proc/<pid>/stat; None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2 :].split()
    return int(rest[19]), rest[0]


def validate_id(cid: str) -> None:
    """Reject ids that could escape the state root."""
    ok = cid and cid not in (".", "..") and all(c.isalnum() or c in "_+-." for c in cid)
    if not ok:
        raise RuntimeFailure(f"invalid container id format: {cid}")


class Container:
    """A container's state directory and its state.json."""

    def __init__(self, root: str, cid: str) -> None:
        validate_id(cid)
        self.id = cid
        self.dir = os.path.join(root, cid)
        self.state_path = os.path.join(self.dir, "state.json")
        self.fifo = os.path.join(self.dir, "exec.fifo")
        self.data: dict[str, Any] = {}

    def exists(self) -> bool:
        return os.path.exists(self.state_path)

    def load(self) -> Container:
        try:
            with open(self.state_path) as f:
                self.data = jsonc.loads(f.read())
        except FileNotFoundError:
            raise RuntimeFailure(f"container {self.id} does not exist") from None
        return self

    @staticmethod
    def preload() -> None:
        """Import what save() needs (callable while the container is being built)."""
        import berth.util.atomic  # noqa: F401

    def save(self) -> None:
        from berth.util.atomic import write_atomic

        write_atomic(self.state_path, jsonc.dumps(self.data).encode(), 0o600, durable=False)

    @property
    def pid(self) -> int:
        return int(self.data.get("pid", 0))

    def alive(self) -> bool:
        """True while our init (same pid, same start time) exists and is not a zombie."""
        if not self.pid:
            return False
        st = process_start_time(self.pid)
        return st is not None and st[0] == self.data.get("start_time") and st[1] not in ("Z", "X")

    def status(self) -> str:
        if not self.alive():
            return "stopped"
        if os.path.exists(self.fifo):
            return "created"
        from berth.runtime.cgroups import Cgroups

        return "paused" if Cgroups.from_state(self.data.get("cgroups") or {}).frozen() else "running"

    def oci_state(self) -> dict[str, Any]:
        status = self.status()
        return {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "pid": self.pid if status != "stopped" else 0,
            "status": status,
            "bundle": self.data.get("bundle", ""),
            "rootfs": self.data.get("rootfs", ""),
            "created": self.data.get("created", ""),
            "owner": "",
            "annotations": self.data.get("annotations") or {},
        }

    def remove(self) -> None:
        """Remove the state directory (it holds only flat files)."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return
        for name in names:
            try:
                os.unlink(os.path.join(self.dir, name))
            except FileNotFoundError:
                pass
        os.rmdir(self.dir)
