"""go-units conversions as docker prints and parses them: HumanSize, RAMInBytes, HumanDuration ago."""

from __future__ import annotations

import time

__all__ = ["ago", "bytes_size", "human_size", "ram_in_bytes"]

_DECIMAL = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
_BINARY = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def human_size(size: float, precision: int = 3) -> str:
    """HumanSizeWithPrecision: decimal units, `precision` significant digits ("7.8MB", "1.23GB")."""
    value = float(size)
    i = 0
    while value >= 1000 and i < len(_DECIMAL) - 1:
        value /= 1000
        i += 1
    return f"{value:.{precision}g}{_DECIMAL[i]}"


def bytes_size(size: float, precision: int = 4) -> str:
    """BytesSize: binary units ("23.54GiB")."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    value = float(size)
    i = 0
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    return f"{value:.{precision}g}{units[i]}"


def ram_in_bytes(text: str) -> int:
    """RAMInBytes (go-units): "64m" -> 67108864, binary multiples, "kb"/"KiB" alike; docker's texts when bad."""
    import re  # here: `run` imports this module, and most runs give no size

    sep = max(text.rfind(ch) for ch in "0123456789. ")
    if sep < 0:
        raise ValueError(f"invalid size: '{text}'")
    num, sfx = (text[:sep + 1], text[sep + 1:]) if text[sep] != " " else (text[:sep], text[sep + 1:])
    if not re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", num, re.ASCII):
        raise ValueError(f'strconv.ParseFloat: parsing "{num}": invalid syntax')
    size = float(num)
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if not sfx:
        return int(size)
    if len(sfx) > 3:
        raise ValueError(f"invalid suffix: '{sfx}'")
    low = sfx.lower()
    if low == "b":
        return int(size)
    mul = _BINARY.get(low[0], 0)
    if not mul or low[1:] not in ("", "b", "ib"):
        raise ValueError(f"invalid suffix: '{low}'")
    return int(size * mul)


def ago(unix_seconds: float, now: float | None = None) -> str:
    """"2 minutes ago" for a unix timestamp (docker's RunningFor / CreatedSince)."""
    from berth.util.timefmt import human_duration

    if unix_seconds <= 0:
        return "N/A"
    return human_duration((time.time() if now is None else now) - unix_seconds) + " ago"
