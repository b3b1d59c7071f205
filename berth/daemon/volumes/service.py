"""Volumes of the `local` driver as dockerd keeps them: <data-root>/volumes/NAME/_data, created by name or
anonymously, listed, inspected, refused for removal while a container uses them, pruned; the API's backend."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from berth import errdefs
from berth.util.atomic import write_json_atomic
from berth.util.du import tree_usage
from berth.util.ids import generate_id
from berth.util.timefmt import rfc3339nano

__all__ = ["Volume", "VolumesService"]

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_META = "berth-volume.json"
LIST_FILTERS = frozenset(("name", "label", "dangling", "driver"))


@dataclass
class Volume:
    name: str
    created_ns: int
    labels: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False

    def to_api(self, root: str) -> dict[str, Any]:
        return {"CreatedAt": rfc3339nano(self.created_ns).split(".")[0].rstrip("Z") + "Z", "Driver": "local",
                "Labels": dict(self.labels), "Mountpoint": os.path.join(root, self.name, "_data"),
                "Name": self.name, "Options": {}, "Scope": "local"}


class VolumesService:
    """The volumes under `root`; `users(name)` are the containers that refer to a volume."""

    def __init__(self, root: str, users: Callable[[str], list[str]] = lambda name: []) -> None:
        self.root = root
        self.users = users
        os.makedirs(root, mode=0o701, exist_ok=True)

    def path(self, name: str) -> str:
        return os.path.join(self.root, name, "_data")

    def get(self, name: str) -> Volume:
        try:
            with open(os.path.join(self.root, name, _META)) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            raise errdefs.NotFound(f"get {name}: no such volume") from None
        return Volume(str(doc["Name"]), int(doc["CreatedNs"]), dict(doc.get("Labels") or {}),
                      bool(doc.get("Anonymous")))

    def exists(self, name: str) -> bool:
        return os.path.exists(os.path.join(self.root, name, _META))

    def create(self, name: str | None = None, labels: Mapping[str, str] | None = None, driver: str = "",
               options: Mapping[str, str] | None = None) -> Volume:
        """A new volume (a random name when none is given); the one that has the name already, if any."""
        if driver not in ("", "local"):
            raise errdefs.NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not found')
        if options:
            raise errdefs.InvalidParameter("berth's local driver takes no volume options (type, o, device)")
        anonymous = not name
        name = name or generate_id()
        if not NAME_RE.match(name):
            raise errdefs.InvalidParameter(
                f'create {name}: "{name}" includes invalid characters for a local volume name, only '
                '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute '
                "path")
        if self.exists(name):
            return self.get(name)
        vol = Volume(name, time.time_ns(), dict(labels or {}), anonymous)
        os.makedirs(os.path.join(self.root, name, "_data"), mode=0o755, exist_ok=True)
        write_json_atomic(os.path.join(self.root, name, _META), {
            "Name": vol.name, "CreatedNs": vol.created_ns, "Labels": vol.labels, "Anonymous": vol.anonymous})
        return vol

    def create_from_api(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /volumes/create: {Name, Driver, DriverOpts, Labels} -> the volume."""
        vol = self.create(str(body.get("Name") or "") or None, body.get("Labels") or {},
                          str(body.get("Driver") or ""), body.get("DriverOpts") or {})
        return vol.to_api(self.root)

    def ensure(self, name: str) -> Volume:
        """The named volume a container refers to, created when it does not exist yet (as dockerd)."""
        return self.get(name) if self.exists(name) else self.create(name)

    def volumes(self) -> list[Volume]:
        out = []
        for name in sorted(os.listdir(self.root)):
            if self.exists(name):
                out.append(self.get(name))
        return out

    def list(self, filters: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        for key in filters:
            if key not in LIST_FILTERS:
                raise errdefs.InvalidParameter(f"invalid filter '{key}'")
        chosen = [v for v in self.volumes() if self._matches(v, filters)]
        return {"Volumes": [v.to_api(self.root) for v in chosen], "Warnings": None}

    def _matches(self, v: Volume, filters: Mapping[str, Sequence[str]]) -> bool:
        if filters.get("name") and not any(n in v.name for n in filters["name"]):
            return False
        if filters.get("driver") and "local" not in filters["driver"]:
            return False
        for want in filters.get("label") or []:
            key, eq, value = want.partition("=")
            if key not in v.labels or (eq and v.labels[key] != value):
                return False
        for flag in filters.get("dangling") or []:
            if flag.lower() not in ("true", "1", "false", "0"):
                raise errdefs.InvalidParameter(f"invalid filter 'dangling={flag}'")
            if (flag.lower() in ("true", "1")) == bool(self.users(v.name)):
                return False
        return True

    def inspect(self, name: str) -> dict[str, Any]:
        return self.get(name).to_api(self.root)

    def remove(self, name: str, force: bool = False) -> None:
        if not self.exists(name):
            if force:
                return
            raise errdefs.NotFound(f"get {name}: no such volume")
        users = self.users(name)
        if users:
            raise errdefs.Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def prune(self, filters: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """Unused anonymous volumes (with all=true, unused named ones too), as dockerd 23+."""
        everything = any(v.lower() in ("true", "1") for v in filters.get("all") or [])
        labels = {k: v for k, v in filters.items() if k == "label"}
        deleted, reclaimed = [], 0
        for v in self.volumes():
            if (v.anonymous or everything) and not self.users(v.name) and self._matches(v, labels):
                reclaimed += self.size(v.name)
                self.remove(v.name)
                deleted.append(v.name)
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def size(self, name: str) -> int:
        return tree_usage(self.path(name))[0]

    def fill_from(self, name: str, rootfs: str, destination: str) -> None:
        """dockerd's copy-up: an empty volume gets what the image has at its mount point (nothing that goes
        through a symlink: the path must be plain directories in the container's rootfs)."""
        target = self.path(name)
        try:
            if os.listdir(target):
                return
        except OSError:
            return
        source = rootfs
        for part in [p for p in destination.split("/") if p]:
            source = os.path.join(source, part)
            try:
                if not stat.S_ISDIR(os.lstat(source).st_mode):
                    return
            except OSError:
                return
        for entry in os.listdir(source):
            src, dst = os.path.join(source, entry), os.path.join(target, entry)
            if os.path.isdir(src) and not os.path.islink(src):
                shutil.copytree(src, dst, symlinks=True)
            else:
                shutil.copy2(src, dst, follow_symlinks=False)
        for dirpath, dirs, files in os.walk(source):  # owners too (copy2 keeps modes and times only)
            for entry in ["", *dirs, *files]:
                src = os.path.join(dirpath, entry) if entry else dirpath
                st = os.lstat(src)
                os.lchown(os.path.join(target, os.path.relpath(src, source)), st.st_uid, st.st_gid)
        os.chmod(target, stat.S_IMODE(os.lstat(source).st_mode))
