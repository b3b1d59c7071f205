"""/dev inside the container (runtime layer): device nodes, the /dev symlinks and /dev/ptmx."""

from __future__ import annotations

import errno
import os
import stat

from berth.kernel import abi
from berth.kernel.mount import mount
from berth.runtime.paths import ensure_file, secure_join

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DEFAULT_DEVICES", "create_devices", "needs_setup_dev", "setup_ptmx", "setup_symlinks"]

# runc's default device nodes (char devices, rw for everyone)
DEFAULT_DEVICES: tuple[dict[str, Any], ...] = tuple(
    {"path": f"/dev/{name}", "type": "c", "major": ma, "minor": mi, "fileMode": 0o666, "uid": 0, "gid": 0}
    for name, ma, mi in (
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    )
)

_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def needs_setup_dev(mounts: list[dict[str, Any]]) -> bool:
    """False when the config bind-mounts a whole /dev from elsewhere."""
    for m in mounts:
        binds = m.get("type") == "bind" or "bind" in (m.get("options") or []) or "rbind" in (m.get("options") or [])
        if os.path.normpath(m.get("destination", "")) == "/dev" and binds:
            return False
    return True


def _mknod(dest: str, dev: dict[str, Any]) -> None:
    mode = int(dev.get("fileMode", 0o666)) & 0o7777
    kind = _TYPES.get(dev.get("type", "c"), stat.S_IFCHR)
    try:
        os.mknod(dest, kind | mode, os.makedev(int(dev.get("major", 0)), int(dev.get("minor", 0))))
    except FileExistsError:
        return
    except PermissionError:
        ensure_file(dest)
        mount(os.path.join("/", dev["path"].lstrip("/")), dest, None, abi.MS_BIND)
        return
    os.chown(dest, int(dev.get("uid", 0)), int(dev.get("gid", 0)))
    os.chmod(dest, mode)


def create_devices(rootfs: str, devices: list[dict[str, Any]]) -> None:
    """Create the default nodes and linux.devices under rootfs/dev."""
    old = os.umask(0)
    try:
        seen: set[str] = set()
        for dev in [*devices, *DEFAULT_DEVICES]:
            path = os.path.normpath("/" + dev["path"])
            if path in seen:
                continue
            seen.add(path)
            dest = secure_join(rootfs, path)
            os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
            _mknod(dest, dev)
    finally:
        os.umask(old)


def setup_symlinks(rootfs: str, with_core: bool) -> None:
    """/dev/fd, /dev/std{in,out,err} (and /dev/core when the host has /proc/kcore), as runc makes them."""
    links = [
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ]
    if with_core:
        links.append(("/proc/kcore", "core"))
    for target, name in links:
        try:
            os.symlink(target, os.path.join(rootfs, "dev", name))
        except FileExistsError:
            pass


def setup_ptmx(rootfs: str) -> None:
    """/dev/ptmx -> pts/ptmx (the container's own devpts instance)."""
    ptmx = os.path.join(rootfs, "dev", "ptmx")
    try:
        os.unlink(ptmx)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
    os.symlink("pts/ptmx", ptmx)
