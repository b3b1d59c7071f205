"""Mounts a container's snapshot (an overlay or a bind) at its bundle's rootfs, and unmounts it."""

from __future__ import annotations

import errno
import logging
import os
from typing import Any

from berth.kernel import abi
from berth.kernel import mount as kmount

__all__ = ["RootfsMounter"]

log = logging.getLogger(__name__)


def _is_mountpoint(path: str) -> bool:
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == target for line in f)


class RootfsMounter:
    """Host-namespace mounts of container root filesystems (containerd's mount.All idea)."""

    def mount(self, m: dict[str, Any], target: str) -> None:
        if _is_mountpoint(target):
            return
        options = list(m.get("options") or [])
        if m.get("type") == "bind":
            flags = abi.MS_BIND | (abi.MS_REC if "rbind" in options else 0)
            kmount.mount(m["source"], target, "", flags, "")
            if "ro" in options:
                kmount.mount("", target, "", abi.MS_BIND | abi.MS_REMOUNT | abi.MS_RDONLY, "")
            return
        kmount.mount(m.get("source", "overlay"), target, m.get("type", "overlay"), 0, ",".join(options))

    def unmount(self, target: str) -> None:
        while True:
            try:
                kmount.umount2(target, abi.MNT_DETACH)
            except OSError as exc:
                if exc.errno in (errno.EINVAL, errno.ENOENT):
                    return
                log.warning("unmount %s: %s", target, exc)
                return
