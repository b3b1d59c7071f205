"""Time formats of the Docker API: RFC3339Nano strings, unix seconds, and `since`/`until` parsing."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

__all__ = ["ZERO_TIME", "from_rfc3339", "human_duration", "now_ns", "parse_since", "rfc3339nano"]

ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
_DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def now_ns() -> int:
    """Wall-clock time in unix nanoseconds."""
    return time.time_ns()


def rfc3339nano(ns: int) -> str:
    """Unix nanoseconds as Go's RFC3339Nano in UTC (trailing zeros of the fraction dropped)."""
    if ns <= 0:
        return ZERO_TIME
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def from_rfc3339(text: str) -> int:
    """Parse an RFC3339 (nano) timestamp into unix nanoseconds; 0 for the zero time."""
    m = _RFC.match(text)
    if not m:
        raise ValueError(f"invalid timestamp {text!r}")
    base, frac, zone = m.groups()
    if base.startswith("0001-"):
        return 0
    dt = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return int(dt.timestamp()) * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


def parse_since(value: str, now: float | None = None) -> float:
    """Docker's since/until: unix seconds (with fraction), RFC3339, or a Go duration ago ("10m")."""
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    if _RFC.match(value):
        return from_rfc3339(value) / 1e9
    if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
    pos, total = 0, 0.0
    for m in _DUR.finditer(value):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(value) or not value:
        raise ValueError(f"invalid time value {value!r}")
    return (time.time() if now is None else now) - total


def human_duration(seconds: float) -> str:
    """Docker's go-units HumanDuration ("Less than a second", "2 minutes", "About an hour")."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"
