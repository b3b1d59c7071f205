"""Mounts a container's snapshot (an overlay or a bind) at its bundle's rootfs, and unmounts it."""

from __future__ import annotations

import errno
import logging
import os
import threading
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
    """Host-namespace mounts of container root filesystems (containerd's mount.All idea).

    Unmounting an overlay syncs its upper filesystem (the whole data-root filesystem): tens of milliseconds
    under disk load. `unmount_later` does it on a thread of its own; a mount, an unmount or `settle` of the
    same target waits for it first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, threading.Thread] = {}

    def settle(self, target: str) -> None:
        """Wait until an unmount of `target` under way (unmount_later) is done."""
        with self._lock:
            thread = self._pending.get(target)
        if thread is not None:
            thread.join()

    def unmount_later(self, target: str) -> None:
        """Unmount `target` in the background."""
        def run() -> None:
            try:
                if previous is not None:
                    previous.join()
                self._unmount(target)
            finally:
                with self._lock:
                    if self._pending.get(target) is thread:
                        del self._pending[target]

        thread = threading.Thread(target=run, name="unmount", daemon=True)
        with self._lock:
            previous = self._pending.get(target)
            self._pending[target] = thread
        thread.start()

    def mount(self, m: dict[str, Any], target: str) -> None:
        self.settle(target)
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
        self.settle(target)
        self._unmount(target)

    def _unmount(self, target: str) -> None:
        while True:
            try:
                kmount.umount2(target, abi.MNT_DETACH)
            except OSError as exc:
                if exc.errno in (errno.EINVAL, errno.ENOENT):
                    return
                log.warning("unmount %s: %s", target, exc)
                return
