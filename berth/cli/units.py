"""go-units conversions as docker prints and parses them: HumanSize, RAMInBytes, HumanDuration ago."""

from __future__ import annotations

import time

__all__ = ["ago", "bytes_size", "human_size", "ram_in_bytes"]

_DECIMAL = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


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
    """RAMInBytes: "64m" -> 67108864 (binary multiples, as --memory and --shm-size parse)."""
    from berth.util.sizes import BINARY, parse_size

    return parse_size(text, BINARY)


def ago(unix_seconds: float, now: float | None = None) -> str:
    """"2 minutes ago" for a unix timestamp (docker's RunningFor / CreatedSince)."""
    from berth.util.timefmt import human_duration

    if unix_seconds <= 0:
        return "N/A"
    return human_duration((time.time() if now is None else now) - unix_seconds) + " ago"
