"""The container's filesystem view (runtime layer): mounts, /dev, pivot_root, masked and read-only paths.

Runs in the init process, inside its new mount namespace, in runc's order: prepare (propagation, rootfs
bind, config mounts, /dev, pivot_root), finalize (read-only /dev and /), then masked/read-only paths.
"""

from __future__ import annotations

import errno
import os

from berth.kernel import abi
from berth.kernel.features import cgroup_mounts
from berth.kernel.mount import mount, pivot_root, umount2
from berth.runtime import devices
from berth.runtime.mountopts import parse_options, parse_rootfs_propagation
from berth.runtime.paths import ensure_dir, ensure_file, secure_join

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["finalize", "mask_path", "prepare", "readonly_path"]

_PRESERVED = abi.MS_NOSUID | abi.MS_NODEV | abi.MS_NOEXEC | abi.MS_NOATIME | abi.MS_NODIRATIME | abi.MS_RELATIME


_BIND_INSTEAD = {"sysfs": "/sys", "mqueue": "/dev/mqueue"}


def _is_bind(m: dict[str, Any]) -> bool:
    opts = m.get("options") or []
    return m.get("type") == "bind" or "bind" in opts or "rbind" in opts


def _bind(source: str, dest: str, flags: int, propagation: tuple[int, ...]) -> None:
    if os.path.isdir(source):
        ensure_dir(dest)
    else:
        ensure_file(dest)
    mount(source, dest, "bind", abi.MS_BIND | (flags & abi.MS_REC))
    extra = flags & ~(abi.MS_BIND | abi.MS_REC | abi.MS_REMOUNT)
    if extra:
        mount(source, dest, None, abi.MS_BIND | abi.MS_REMOUNT | extra)
    for p in propagation:
        mount(None, dest, None, p)


def _mount_cgroup(dest: str, flags: int, cgroup_dirs: list[str], cgroupns: bool) -> None:
    """Docker's /sys/fs/cgroup as runc 1.1 makes it: cgroup2 itself on a pure v2 host, else a tmpfs
    (left writable) holding one read-only mount per v1 hierarchy, the hybrid cgroup2 one left out."""
    hierarchies = cgroup_mounts()
    ensure_dir(dest)
    if all(h.version == 2 for h in hierarchies):
        mount("cgroup2", dest, "cgroup2", flags)
        return
    mount("tmpfs", dest, "tmpfs", abi.MS_NOSUID | abi.MS_NODEV | abi.MS_NOEXEC, "mode=755")
    for h in hierarchies:
        if h.version == 2:
            continue
        sub = os.path.join(dest, os.path.basename(h.mountpoint))
        ensure_dir(sub)
        if cgroupns:
            mount("cgroup", sub, "cgroup", flags, ",".join(h.controllers))
            continue
        own = next((d for d in cgroup_dirs if d.startswith(h.mountpoint + "/")), h.mountpoint)
        mount(own, sub, None, abi.MS_BIND)
        mount(own, sub, None, abi.MS_BIND | abi.MS_REMOUNT | flags)


def _mount_one(rootfs: str, m: dict[str, Any], cgroup_dirs: list[str], cgroupns: bool) -> None:
    opts = parse_options(list(m.get("options") or []))
    dest = secure_join(rootfs, m["destination"])
    mtype = m.get("type") or ""
    if _is_bind(m):
        source = m.get("source") or ""
        _bind(source, dest, opts.flags | abi.MS_BIND, opts.propagation)
        return
    if mtype == "cgroup":
        _mount_cgroup(dest, opts.flags, cgroup_dirs, cgroupns)
        return
    ensure_dir(dest)
    try:
        mount(m.get("source") or mtype, dest, mtype, opts.flags, opts.data)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EINVAL) or mtype not in _BIND_INSTEAD:
            raise
        # a user namespace that does not own the network (or ipc) namespace may not mount a fresh
        # sysfs (or mqueue): bind the host's, as runc does
        _bind(_BIND_INSTEAD[mtype], dest, abi.MS_BIND | abi.MS_REC | (opts.flags & ~abi.MS_REMOUNT), ())
    for p in opts.propagation:
        mount(None, dest, None, p)


def _make_parent_private(path: str) -> None:
    while not os.path.ismount(path) and path != "/":
        path = os.path.dirname(path)
    mount(None, path, None, abi.MS_PRIVATE)


def _dest(m: dict[str, Any]) -> str:
    return os.path.normpath("/" + str(m.get("destination", "")))


def _split_cgroup_mounts(mounts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(mounts to make at once, the cgroup mounts and what lies beneath them, to make once the cgroups exist).

    Nothing is put off when a later mount would cover a cgroup mount: what the container sees stays the same."""
    now: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []
    under: list[str] = []
    for m in mounts:
        dest = _dest(m)
        if m.get("type") == "cgroup" or any(dest == u or dest.startswith(u + "/") for u in under):
            if m.get("type") == "cgroup":
                under.append(dest)
            later.append(m)
        elif any(u == dest or u.startswith(dest.rstrip("/") + "/") for u in under):
            return mounts, []
        else:
            now.append(m)
    return now, later


def prepare(
    spec: dict[str, Any],
    rootfs: str,
    cgroup_dirs: list[str],
    cgroupns: bool,
    before_pivot: Callable[[], None] | None = None,
    cgroups_ready: Callable[[], None] | None = None,
) -> None:
    """Everything up to and including pivot_root; afterwards the cwd is the new `/`.

    The cgroup mounts come last, after `cgroups_ready()` returns: the parent creates the container's cgroups
    while we build the rest."""
    linux = spec.get("linux") or {}
    propagation = parse_rootfs_propagation(linux.get("rootfsPropagation"))
    mount(None, "/", None, propagation)
    if propagation & (abi.MS_SHARED | abi.MS_SLAVE):
        _make_parent_private(rootfs)  # pivot_root refuses a new root whose parent mount is shared
    mount(rootfs, rootfs, "bind", abi.MS_BIND | abi.MS_REC)
    mounts = list(spec.get("mounts") or [])
    now, later = _split_cgroup_mounts(mounts)
    for m in now:
        if m.get("type") == "cgroup" and cgroups_ready is not None:
            cgroups_ready()
        _mount_one(rootfs, m, cgroup_dirs, cgroupns)
    if devices.needs_setup_dev(mounts):
        devices.create_devices(rootfs, list(linux.get("devices") or []))
        devices.setup_ptmx(rootfs)
        devices.setup_symlinks(rootfs, os.path.exists("/proc/kcore"))
    if later and cgroups_ready is not None:
        cgroups_ready()
    for m in later:
        _mount_one(rootfs, m, cgroup_dirs, cgroupns)
    cwd = (spec.get("process") or {}).get("cwd") or "/"
    ensure_dir(secure_join(rootfs, cwd))
    if before_pivot is not None:
        before_pivot()
    os.chdir(rootfs)
    pivot_root(".", ".")
    mount(None, ".", None, abi.MS_SLAVE | abi.MS_REC)
    umount2(".", abi.MNT_DETACH)
    os.chdir("/")
    if propagation & (abi.MS_SHARED | abi.MS_SLAVE):
        mount(None, "/", None, propagation)


def finalize(spec: dict[str, Any]) -> None:
    """/dev read-only when asked, then root.readonly; umask 022 as runc leaves it."""
    for m in spec.get("mounts") or []:
        if os.path.normpath(m.get("destination", "")) == "/dev" and "ro" in (m.get("options") or []):
            flags = parse_options(list(m.get("options") or [])).flags
            mount(None, "/dev", None, abi.MS_REMOUNT | flags)
    if (spec.get("root") or {}).get("readonly"):
        flags = os.statvfs("/").f_flag & _PRESERVED
        mount(None, "/", None, abi.MS_BIND | abi.MS_REMOUNT | abi.MS_RDONLY | flags)
    os.umask(0o022)


def readonly_path(path: str) -> None:
    """Bind `path` onto itself read-only (keeping its nosuid/nodev/noexec flags)."""
    try:
        mount(path, path, None, abi.MS_BIND | abi.MS_REC)
    except FileNotFoundError:
        return
    flags = os.statvfs(path).f_flag & _PRESERVED
    mount(path, path, None, abi.MS_BIND | abi.MS_REMOUNT | abi.MS_RDONLY | abi.MS_REC | flags)


def mask_path(path: str) -> None:
    """Hide `path`: /dev/null over a file, an empty read-only tmpfs over a directory."""
    try:
        mount("/dev/null", path, None, abi.MS_BIND)
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno != errno.ENOTDIR:
            raise
        mount("tmpfs", path, "tmpfs", abi.MS_RDONLY)
