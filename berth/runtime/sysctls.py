"""linux.sysctl checks (runtime layer): only namespaced keys, and only in namespaces not shared with the host,
with runc's texts."""

from __future__ import annotations

import os

from berth.runtime.errors import RuntimeFailure

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["validate"]

_IPC = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                  "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"})


def _own(namespaces: list[dict[str, Any]], kind: str, proc_name: str) -> bool:
    """True when the container gets a namespace of `kind` other than this process's."""
    for ns in namespaces:
        if ns.get("type") != kind:
            continue
        path = ns.get("path")
        if not path:
            return True
        try:
            return os.stat(path).st_ino != os.stat(f"/proc/self/ns/{proc_name}").st_ino
        except OSError:
            return True
    return False


def validate(spec: dict[str, Any]) -> None:
    """Refuse sysctls that would change the host, as runc's config validation does."""
    linux = spec.get("linux") or {}
    sysctls = linux.get("sysctl") or {}
    if not sysctls:
        return
    namespaces = list(linux.get("namespaces") or [])
    for key in sysctls:
        if key in _IPC or key.startswith("fs.mqueue."):
            if not _own(namespaces, "ipc", "ipc"):
                raise RuntimeFailure(f'sysctl "{key}" is not allowed in the hosts ipc namespace')
        elif key.startswith("net."):
            if not _own(namespaces, "network", "net"):
                raise RuntimeFailure(f'sysctl "{key}" not allowed in host network namespace')
        elif key in ("kernel.domainname", "kernel.hostname") and _own(namespaces, "uts", "uts"):
            if key == "kernel.hostname":
                raise RuntimeFailure(f'sysctl "{key}" is not allowed as it conflicts with the OCI "hostname" field')
        else:
            raise RuntimeFailure(f'sysctl "{key}" is not in a separate kernel namespace')
