"""process.capabilities -> bounding, effective, permitted, inheritable, ambient sets (runtime layer)."""

from __future__ import annotations

import errno

from berth.kernel import prctl
from berth.kernel.caps import CAP_NAMES, capset

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CapConfig", "cap_mask", "drop_bounding", "set_caps"]

_NUMBERS = {f"CAP_{name}": i for i, name in enumerate(CAP_NAMES)}


def cap_mask(names: list[str] | None, last: int) -> int:
    """A bit mask of the named capabilities this kernel knows (unknown names are ignored, as runc does)."""
    mask = 0
    for name in names or []:
        num = _NUMBERS.get(name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper())
        if num is not None and num <= last:
            mask |= 1 << num
    return mask


class CapConfig:
    """The five sets of an OCI process as masks."""

    __slots__ = ("ambient", "bounding", "effective", "inheritable", "last", "permitted")

    def __init__(self, caps: dict[str, Any] | None, last: int) -> None:
        caps = caps or {}
        self.last = last
        self.bounding = cap_mask(caps.get("bounding"), last)
        self.effective = cap_mask(caps.get("effective"), last)
        self.permitted = cap_mask(caps.get("permitted"), last)
        self.inheritable = cap_mask(caps.get("inheritable"), last)
        self.ambient = cap_mask(caps.get("ambient"), last)


def drop_bounding(cfg: CapConfig) -> None:
    """Drop every capability outside the bounding set (needs CAP_SETPCAP, so before the user switch)."""
    prctl.capbset_drop_each([cap for cap in range(cfg.last + 1) if not cfg.bounding >> cap & 1])


def set_caps(cfg: CapConfig) -> None:
    """capset the effective/permitted/inheritable sets, then raise the ambient ones."""
    capset(cfg.effective, cfg.permitted, cfg.inheritable)
    prctl.ambient_clear()
    for cap in range(cfg.last + 1):
        if cfg.ambient >> cap & 1:
            try:
                prctl.ambient_raise(cap)
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.EINVAL):
                    raise
