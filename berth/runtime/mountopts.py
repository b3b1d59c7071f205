"""OCI mount options -> mount(2) flags, propagation flags and the data string (runtime layer)."""

from __future__ import annotations

from berth.kernel import abi

__all__ = ["MountOpts", "parse_options"]

# option -> (clear?, flag)
_FLAGS: dict[str, tuple[bool, int]] = {
    "ro": (False, abi.MS_RDONLY),
    "rw": (True, abi.MS_RDONLY),
    "nosuid": (False, abi.MS_NOSUID),
    "suid": (True, abi.MS_NOSUID),
    "nodev": (False, abi.MS_NODEV),
    "dev": (True, abi.MS_NODEV),
    "noexec": (False, abi.MS_NOEXEC),
    "exec": (True, abi.MS_NOEXEC),
    "sync": (False, abi.MS_SYNCHRONOUS),
    "async": (True, abi.MS_SYNCHRONOUS),
    "dirsync": (False, abi.MS_DIRSYNC),
    "remount": (False, abi.MS_REMOUNT),
    "mand": (False, abi.MS_MANDLOCK),
    "nomand": (True, abi.MS_MANDLOCK),
    "noatime": (False, abi.MS_NOATIME),
    "atime": (True, abi.MS_NOATIME),
    "nodiratime": (False, abi.MS_NODIRATIME),
    "diratime": (True, abi.MS_NODIRATIME),
    "relatime": (False, abi.MS_RELATIME),
    "norelatime": (True, abi.MS_RELATIME),
    "strictatime": (False, abi.MS_STRICTATIME),
    "nostrictatime": (True, abi.MS_STRICTATIME),
    "lazytime": (False, abi.MS_LAZYTIME),
    "nolazytime": (True, abi.MS_LAZYTIME),
    "nosymfollow": (False, abi.MS_NOSYMFOLLOW),
    "symfollow": (True, abi.MS_NOSYMFOLLOW),
    "bind": (False, abi.MS_BIND),
    "rbind": (False, abi.MS_BIND | abi.MS_REC),
}

_PROPAGATION: dict[str, int] = {
    "private": abi.MS_PRIVATE,
    "rprivate": abi.MS_PRIVATE | abi.MS_REC,
    "slave": abi.MS_SLAVE,
    "rslave": abi.MS_SLAVE | abi.MS_REC,
    "shared": abi.MS_SHARED,
    "rshared": abi.MS_SHARED | abi.MS_REC,
    "unbindable": abi.MS_UNBINDABLE,
    "runbindable": abi.MS_UNBINDABLE | abi.MS_REC,
}

_IGNORED = {"tmpcopyup", "idmap", "ridmap", "defaults", "auto", "noauto", "user", "nouser", "_netdev"}


class MountOpts:
    """Parsed options: flags, propagation changes, fs data string."""

    __slots__ = ("data", "flags", "propagation")

    def __init__(self, flags: int, propagation: tuple[int, ...], data: str) -> None:
        self.flags, self.propagation, self.data = flags, propagation, data


def parse_options(options: list[str]) -> MountOpts:
    """Split OCI mount options into mount flags, propagation flags and the data string."""
    flags = 0
    prop: list[int] = []
    data: list[str] = []
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in _PROPAGATION:
            prop.append(_PROPAGATION[opt])
        elif opt not in _IGNORED:
            data.append(opt)
    return MountOpts(flags, tuple(prop), ",".join(data))


def parse_rootfs_propagation(value: str | None) -> int:
    """linux.rootfsPropagation -> flags for the / remount (default rprivate)."""
    return _PROPAGATION.get(value or "", abi.MS_PRIVATE | abi.MS_REC)
