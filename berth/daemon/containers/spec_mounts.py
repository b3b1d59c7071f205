"""Mounts of a container: Docker's default OCI mounts, Binds and Tmpfs parsing, and inspect's Mounts."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from berth import errdefs

__all__ = [
    "DEFAULT_SHM_SIZE",
    "Bind",
    "api_mounts",
    "bind_mounts",
    "check_bind_sources",
    "destinations",
    "named_volume_destinations",
    "volume_names",
    "check_duplicates",
    "default_mounts",
    "merge_tmpfs_options",
    "mount_points",
    "parse_bind",
    "sort_by_depth",
    "tmpfs_mounts",
]

DEFAULT_SHM_SIZE = 64 * 1024 * 1024
_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_MODES = ("ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated")
# flag -> the group it belongs to (a later flag of a group overrides an earlier one)
_FLAG_GROUPS: dict[str, str] = {
    **{f: "rw" for f in ("ro", "rw")},
    **{f: "exec" for f in ("exec", "noexec")},
    **{f: "suid" for f in ("suid", "nosuid")},
    **{f: "dev" for f in ("dev", "nodev")},
    **{f: "atime" for f in ("atime", "noatime", "relatime", "strictatime")},
    **{f: "diratime" for f in ("diratime", "nodiratime")},
    **{f: "sync" for f in ("sync", "async")},
    **{f: "prop" for f in (*_PROPAGATIONS, "unbindable", "runbindable")},
}


@dataclass(frozen=True, slots=True)
class Bind:
    """One `-v SRC:DST[:MODE]` entry."""

    source: str
    destination: str
    mode: str
    rw: bool
    propagation: str

    @property
    def is_named_volume(self) -> bool:
        return not self.source.startswith("/")


def parse_bind(spec: str) -> Bind:
    """Parse a HostConfig.Binds entry; InvalidParameter with docker's texts."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise errdefs.InvalidParameter(f"invalid volume specification: '{spec}'")
    source, dest = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    if not dest.startswith("/"):
        raise errdefs.InvalidParameter(
            f"invalid volume specification: '{spec}': invalid mount config for type \"bind\": "
            f"invalid mount path: '{dest}' mount path must be absolute"
        )
    if dest == "/":
        raise errdefs.InvalidParameter(f"invalid specification: destination can't be '/' in '{spec}'")
    flags = [m for m in mode.split(",") if m]
    rw, propagation = True, "rprivate"
    for flag in flags:
        if flag in _PROPAGATIONS:
            propagation = flag
        elif flag == "ro":
            rw = False
        elif flag not in _MODES:
            raise errdefs.InvalidParameter(f"invalid mode: {mode}")
    return Bind(os.path.normpath(source) if source.startswith("/") else source,
                os.path.normpath(dest), mode, rw, propagation)


def default_mounts(shm_size: int, ipc_mode: str) -> list[dict[str, Any]]:
    """Docker's default mounts (daemon/pkg/oci/defaults.go) with /dev/shm sized or shared."""
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
    ]
    if ipc_mode == "host":
        mounts.append({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                       "options": ["rbind", "nosuid", "noexec", "nodev"]})
    elif ipc_mode != "none":
        mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                       "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]})
    return mounts


def merge_tmpfs_options(options: Sequence[str]) -> list[str]:
    """Later options win over earlier ones of the same kind (exec/noexec, size=...); order is kept."""
    seen: set[str] = set()
    kept: list[str] = []
    for opt in reversed(options):
        if not opt:
            continue
        key = _FLAG_GROUPS.get(opt, opt.split("=", 1)[0] + "=" if "=" in opt else opt)
        if key in seen:
            continue
        seen.add(key)
        kept.append(opt)
    kept.reverse()
    return kept


def tmpfs_mounts(tmpfs: Mapping[str, str]) -> list[dict[str, Any]]:
    """HostConfig.Tmpfs {"/run": "size=64m,exec"} as OCI tmpfs mounts."""
    out = []
    for dest, data in tmpfs.items():
        if not dest.startswith("/"):
            raise errdefs.InvalidParameter(f"invalid mount path: '{dest}' mount path must be absolute")
        opts = ["noexec", "nosuid", "nodev", "rprivate", *(data or "").split(",")]
        out.append({"destination": os.path.normpath(dest), "type": "tmpfs", "source": "tmpfs",
                    "options": merge_tmpfs_options(opts)})
    return out


def bind_mounts(binds: Sequence[str], volume_paths: Mapping[str, str]) -> list[dict[str, Any]]:
    """HostConfig.Binds as OCI bind mounts; named volumes come from `volume_paths` (name -> host dir)."""
    out = []
    for spec in binds:
        b = parse_bind(spec)
        source = b.source
        if b.is_named_volume:
            if b.source not in volume_paths:
                raise errdefs.NotFound(f"get {b.source}: no such volume")
            source = volume_paths[b.source]
        opts = ["rbind"] + ([] if b.rw else ["ro"]) + [b.propagation]
        out.append({"destination": b.destination, "type": "bind", "source": source, "options": opts})
    return out


def _tmpfs_data(opts: Mapping[str, Any]) -> list[str]:
    out = []
    mode = int(opts.get("Mode") or 0)
    if mode:
        out.append(f"mode={mode:o}")
    size = int(opts.get("SizeBytes") or 0)
    if size:
        for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % divisor == 0:
                out.append(f"size={size // divisor}{suffix}")
                break
        else:
            out.append(f"size={size}")
    return out


def _check_api_mount(m: Mapping[str, Any]) -> tuple[str, str, str]:
    kind = str(m.get("Type") or "")
    target = str(m.get("Target") or "")
    source = str(m.get("Source") or "")
    prefix = f'invalid mount config for type "{kind}": '
    if kind not in ("bind", "tmpfs", "volume"):
        raise errdefs.InvalidParameter(prefix + "mount type unknown")
    if not target:
        raise errdefs.InvalidParameter(prefix + "field Target must not be empty")
    if not target.startswith("/"):
        raise errdefs.InvalidParameter(prefix + f"invalid mount path: '{target}' mount path must be absolute")
    if kind == "bind" and not source:
        raise errdefs.InvalidParameter(prefix + "field Source must not be empty")
    if kind == "bind" and not source.startswith("/"):
        raise errdefs.InvalidParameter(prefix + f"invalid mount path: '{source}' mount path must be absolute")
    if kind == "tmpfs" and source:
        raise errdefs.InvalidParameter(prefix + "field Source must not be specified")
    return kind, source, os.path.normpath(target)


def api_mounts(mounts: Sequence[Mapping[str, Any]], volume_paths: Mapping[str, str]) -> list[dict[str, Any]]:
    """HostConfig.Mounts (`--mount`) as OCI mounts."""
    out = []
    for m in mounts:
        kind, source, target = _check_api_mount(m)
        ro = ["ro"] if m.get("ReadOnly") else []
        if kind == "tmpfs":
            opts = ["noexec", "nosuid", "nodev", "rprivate", *ro, *_tmpfs_data(m.get("TmpfsOptions") or {})]
            out.append({"destination": target, "type": "tmpfs", "source": "tmpfs",
                        "options": merge_tmpfs_options(opts)})
            continue
        if kind == "volume":
            name = source
            if name not in volume_paths:
                raise errdefs.NotFound(f"get {name}: no such volume")
            source = volume_paths[name]
        bind_opts = m.get("BindOptions") or {}
        first = "bind" if bind_opts.get("NonRecursive") else "rbind"
        propagation = str(bind_opts.get("Propagation") or "rprivate")
        out.append({"destination": target, "type": "bind", "source": source,
                    "options": [first, *ro, propagation]})
    return out


def named_volume_destinations(host_config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(destination, volume name) of the named volumes in Binds (`-v NAME:/path`) and Mounts (type volume)."""
    out = []
    for spec in host_config.get("Binds") or []:
        b = parse_bind(spec)
        if b.is_named_volume:
            out.append((b.destination, b.source))
    for m in host_config.get("Mounts") or []:
        if m.get("Type") == "volume" and m.get("Source"):
            out.append((os.path.normpath(str(m.get("Target") or "/")), str(m["Source"])))
    return out


def volume_names(host_config: Mapping[str, Any]) -> list[str]:
    return [name for _, name in named_volume_destinations(host_config)]


def destinations(host_config: Mapping[str, Any]) -> list[str]:
    """Where Binds, Mounts and Tmpfs mount something."""
    return ([parse_bind(b).destination for b in host_config.get("Binds") or []]
            + [os.path.normpath(str(m.get("Target") or "/")) for m in host_config.get("Mounts") or []]
            + [os.path.normpath(d) for d in host_config.get("Tmpfs") or {}])


def check_bind_sources(mounts: Sequence[Mapping[str, Any]]) -> None:
    """`--mount type=bind` sources must exist: unlike `-v`, docker never creates them."""
    for m in mounts:
        kind, source, _ = _check_api_mount(m)
        if kind == "bind" and not os.path.exists(source):
            raise errdefs.InvalidParameter(
                f'invalid mount config for type "bind": bind source path does not exist: {source}')


def check_duplicates(host_config: Mapping[str, Any]) -> None:
    """Binds, Mounts and Tmpfs must not share a destination (docker's text)."""
    seen: set[str] = set()
    dests = [parse_bind(b).destination for b in host_config.get("Binds") or []]
    dests += [_check_api_mount(m)[2] for m in host_config.get("Mounts") or []]
    dests += [os.path.normpath(d) for d in host_config.get("Tmpfs") or {}]
    for dest in dests:
        if dest in seen:
            raise errdefs.InvalidParameter(f"Duplicate mount point: {dest}")
        seen.add(dest)


def sort_by_depth(mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before children, as docker sorts a container's own mounts (stable)."""
    return sorted(mounts, key=lambda m: len(os.path.normpath(m["destination"]).split("/")))


def mount_points(host_config: Mapping[str, Any], anonymous: Mapping[str, str] | None = None,
                 volumes_root: str = "") -> list[dict[str, Any]]:
    """Inspect/list `Mounts` for the container's binds, mounts and anonymous volumes (destination -> name)."""

    def volume(name: str, destination: str, rw: bool, mode: str) -> dict[str, Any]:
        source = os.path.join(volumes_root, name, "_data") if volumes_root else ""
        return {"Type": "volume", "Name": name, "Source": source, "Destination": destination, "Driver": "local",
                "Mode": mode, "RW": rw, "Propagation": ""}

    out: list[dict[str, Any]] = [volume(n, d, True, "") for d, n in sorted((anonymous or {}).items())]
    for spec in host_config.get("Binds") or []:
        try:
            b = parse_bind(spec)
        except errdefs.InvalidParameter:
            continue
        if b.is_named_volume:
            out.append(volume(b.source, b.destination, b.rw, b.mode or "z"))
            continue
        out.append({"Type": "bind", "Source": b.source, "Destination": b.destination, "Mode": b.mode, "RW": b.rw,
                    "Propagation": b.propagation})
    for m in host_config.get("Mounts") or []:
        kind = str(m.get("Type") or "")
        rw = not m.get("ReadOnly")
        target = str(m.get("Target") or "")
        if kind == "bind":
            prop = str((m.get("BindOptions") or {}).get("Propagation") or "rprivate")
            out.append({"Type": "bind", "Source": m.get("Source") or "", "Destination": target, "Mode": "",
                        "RW": rw, "Propagation": prop})
        elif kind == "volume" and m.get("Source"):
            out.append(volume(str(m["Source"]), target, rw, "z"))
        elif kind == "tmpfs":
            out.append({"Type": "tmpfs", "Source": "", "Destination": target, "Mode": "", "RW": rw,
                        "Propagation": ""})
    return out
