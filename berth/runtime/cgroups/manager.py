"""Cgroup manager (runtime layer): a container's cgroup in every hierarchy: create, join, kill, remove."""

from __future__ import annotations

import errno
import os
import signal
import time

from berth.kernel.features import CgroupMount, cgroup_mounts
from berth.runtime.cgroups import resources

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Cgroups", "resolve_path"]


def resolve_path(cgroups_path: str | None, cid: str) -> str:
    """The absolute cgroup path for a container (relative paths are taken under /; none gives /<id>)."""
    path = cgroups_path or cid
    if ":" in path and not path.startswith("/"):
        parts = path.split(":")  # systemd style slice:prefix:name, taken as a plain path
        path = "/".join(p for p in (parts[0], f"{parts[1]}-{parts[2]}" if len(parts) == 3 else "") if p)
    norm = os.path.normpath("/" + path.lstrip("/"))
    return norm


def _hierarchy_dir(m: CgroupMount, path: str) -> str:
    rel = path
    if m.root != "/" and (path == m.root or path.startswith(m.root + "/")):
        rel = path[len(m.root) :] or "/"
    return os.path.join(m.mountpoint, rel.lstrip("/"))


def _copy_cpuset_parent(d: str) -> None:
    """A new v1 cpuset cgroup starts with empty cpus/mems: inherit them from the parent, top down."""
    parent = os.path.dirname(d)
    for name in ("cpuset.cpus", "cpuset.mems"):
        try:
            with open(os.path.join(d, name)) as f:
                if f.read().strip():
                    continue
            with open(os.path.join(parent, name)) as f:
                value = f.read().strip()
            with open(os.path.join(d, name), "w") as f:
                f.write(value)
        except FileNotFoundError:
            return


class Cgroups:
    """A container's cgroup directories, one per hierarchy (the cgroup2 one last)."""

    def __init__(self, dirs: list[str], v2_dir: str | None, pure_v2: bool) -> None:
        self.dirs = dirs
        self.v2_dir = v2_dir
        self.pure_v2 = pure_v2
        self._pids_dirs: list[str] | None = None  # those of `dirs` with the pids controller, found at first use

    @classmethod
    def for_path(cls, path: str) -> Cgroups:
        mounts = cgroup_mounts()
        v1 = [m for m in mounts if m.version == 1]
        v2 = [m for m in mounts if m.version == 2]
        dirs = [_hierarchy_dir(m, path) for m in v1]
        v2_dir = _hierarchy_dir(v2[0], path) if v2 else None
        return cls(dirs + ([v2_dir] if v2_dir else []), v2_dir, pure_v2=not v1)

    @classmethod
    def from_state(cls, data: dict[str, object]) -> Cgroups:
        raw = data.get("dirs")
        dirs = [str(d) for d in raw] if isinstance(raw, list) else []
        v2 = data.get("v2_dir")
        return cls(dirs, str(v2) if v2 else None, bool(data.get("pure_v2")))

    def to_state(self) -> dict[str, object]:
        return {"dirs": self.dirs, "v2_dir": self.v2_dir, "pure_v2": self.pure_v2}

    def create(self) -> None:
        for d in self.dirs:
            if d == self.v2_dir:
                self._mkdir_v2(d)
                continue
            self._mkdir_chain(d, _copy_cpuset_parent)

    def _mkdir_chain(self, d: str, fixup: Callable[[str], None] | None) -> None:
        missing: list[str] = []
        cur = d
        while not os.path.isdir(cur):
            missing.append(cur)
            cur = os.path.dirname(cur)
        for m in reversed(missing):
            try:
                os.mkdir(m, 0o755)
            except FileExistsError:
                pass
            if fixup is not None:
                fixup(m)

    def _mkdir_v2(self, d: str) -> None:
        self._mkdir_chain(d, None)
        if self.pure_v2:
            resources.enable_v2_controllers(d)

    def apply(self, res: dict[str, object] | None) -> None:
        """Apply linux.resources limits (the subset Docker sets)."""
        if res:
            resources.apply(self, res)

    def add(self, pid: int) -> None:
        data = str(pid).encode()
        for d in self.dirs:
            fd = os.open(os.path.join(d, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def pids_room(self) -> int | None:
        """How many more processes the container's pids limit lets in now; None when it has no limit."""
        if self._pids_dirs is None:
            self._pids_dirs = [d for d in self.dirs if os.path.exists(os.path.join(d, "pids.max"))]
        room: int | None = None
        for d in self._pids_dirs:
            try:
                with open(os.path.join(d, "pids.max")) as f:
                    limit = f.read().strip()
                if limit == "max":
                    continue
                with open(os.path.join(d, "pids.current")) as f:
                    left = int(limit) - int(f.read())
            except (OSError, ValueError):  # removed meanwhile
                continue
            room = left if room is None else min(room, left)
        return room

    def pids(self) -> list[int]:
        """Every process in the container's cgroup."""
        found: set[int] = set()
        for d in self.dirs:
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    found.update(int(x) for x in f.read().split())
            except FileNotFoundError:
                continue
        return sorted(found)

    def signal_all(self, sig: int) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _freezer(self) -> tuple[str, str, str, str] | None:
        """(file, frozen value, thawed value, file to poll) of the freezer this host offers."""
        for d in self.dirs:
            if d != self.v2_dir and os.path.exists(os.path.join(d, "freezer.state")):
                state = os.path.join(d, "freezer.state")
                return state, "FROZEN", "THAWED", state
        if self.v2_dir and os.path.exists(os.path.join(self.v2_dir, "cgroup.freeze")):
            return os.path.join(self.v2_dir, "cgroup.freeze"), "1", "0", os.path.join(self.v2_dir, "cgroup.events")
        return None

    def frozen(self) -> bool:
        """True when the container's processes are frozen (paused)."""
        fz = self._freezer()
        if fz is None:
            return False
        try:
            with open(fz[3]) as f:
                text = f.read()
        except FileNotFoundError:
            return False
        return text.strip() == "FROZEN" if fz[1] == "FROZEN" else "frozen 1" in text

    def freeze(self, on: bool, timeout: float = 10.0) -> None:
        """Freeze (pause) or thaw (resume) every process, and wait until the kernel has done it."""
        fz = self._freezer()
        if fz is None:
            raise OSError(errno.ENOTSUP, "no freezer cgroup on this host")
        deadline = time.monotonic() + timeout
        while True:
            with open(fz[0], "w") as f:
                f.write(fz[1] if on else fz[2])
            if self.frozen() == on or time.monotonic() > deadline:
                return
            time.sleep(0.001)

    def kill_and_wait(self, timeout: float = 10.0) -> None:
        """SIGKILL every process in the cgroup and wait until it is empty."""
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            self.signal_all(signal.SIGKILL)
            time.sleep(0.005)

    def remove_if_empty(self) -> bool:
        """Remove the container's directories at once; False (some may be left) when one still holds a task."""
        for d in self.dirs:
            try:
                os.rmdir(d)
            except FileNotFoundError:
                continue
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise
                return False
        return True

    def destroy(self) -> None:
        """Remove the container's directories (retrying while the kernel still counts exiting tasks)."""
        for d in self.dirs:
            for _ in range(200):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        raise
                    self.signal_all(signal.SIGKILL)
                    time.sleep(0.01)
