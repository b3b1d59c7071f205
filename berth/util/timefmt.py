"""Time formats of the Docker API: RFC3339Nano strings, unix seconds, and `since`/`until` parsing."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

__all__ = ["ZERO_TIME", "from_rfc3339", "human_duration", "now_ns", "parse_since", "rfc3339nano"]

ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


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


_GO_DURATION = re.compile(r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+", re.ASCII)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_INT = re.compile(r"[-+]?\d+", re.ASCII)
_DIGITS = re.compile(r"\d+", re.ASCII)
# by how much of a clock the value has: none (a date), hours, minutes, seconds, seconds and a fraction
_LAYOUTS = ("2006-01-02", "2006-01-02T15", "2006-01-02T15:04", "2006-01-02T15:04:05",
            "2006-01-02T15:04:05.999999999")
_SECONDS = r"T(?P<h>\d\d?):(?P<mi>\d\d):(?P<s>\d\d)(?:[.,](?P<f>\d+))?"
_CLOCKS = ("", r"T(?P<h>\d\d?)", r"T(?P<h>\d\d?):(?P<mi>\d\d)", _SECONDS, _SECONDS)
_DATE = r"(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)"
_ZONE = r"(?P<z>Z|[+-]\d\d:\d\d)"


def parse_since(value: str, now: float | None = None) -> float:
    """Docker's since/until value (the CLI's and the daemon's GetTimestamp) as unix seconds: a Go duration ago
    ("10m", "1h30m"), an RFC3339 date or time with or without a zone (without one: in the local zone, at its
    offset now), or unix seconds ("1700000000.5"). ValueError with docker's text otherwise."""
    ref = time.time() if now is None else now
    if _GO_DURATION.fullmatch(value):
        return float(math.floor(ref - _duration_seconds(value)))
    local = not any(ch in value for ch in "zZ+") and value.count("-") != 3
    clock = 0 if "T" not in value and "." not in value else _clock_fields(value, local)
    layout = f'"{_LAYOUTS[clock]}{"" if local else "Z07:00"}"'
    m = re.fullmatch(_DATE + _CLOCKS[clock] + ("" if local else _ZONE), value, re.ASCII)
    if m:
        return _epoch(m, ref, f"parsing time {_quote(value)} as {layout}")
    if "-" in value:  # meant as a date: docker reports the layout it tried
        raise ValueError(f"parsing time {_quote(value)} as {layout}: cannot parse it")
    sec, dot, frac = value.partition(".")
    if not _INT.fullmatch(sec) or (dot and not _DIGITS.fullmatch(frac)):
        raise ValueError(f"failed to parse value as time or duration: {_quote(value)}")
    return int(sec) + (int(frac[:9].ljust(9, "0")) / 1e9 if dot else 0.0)


def _duration_seconds(value: str) -> float:
    sign = -1.0 if value.startswith("-") else 1.0
    return sign * sum(float(num) * _UNIT[unit] for num, unit in _DURATION_PART.findall(value))


def _clock_fields(value: str, local: bool) -> int:
    """Docker's choice of layout: a "." means seconds and a fraction; else the colons after the date count
    (one of them belongs to a numeric zone)."""
    if "." in value:
        return 4
    colons = value.count(":")
    if not local and not any(ch in value for ch in "zZ") and colons:
        colons -= 1
    return min(colons, 2) + 1


def _epoch(m: re.Match[str], ref: float, what: str) -> float:
    f = {k: v or "" for k, v in m.groupdict().items()}
    try:
        wall = datetime(int(f["y"]), int(f["mo"]), int(f["d"]), int(f.get("h") or 0), int(f.get("mi") or 0),
                        int(f.get("s") or 0), tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    zone = f.get("z", "")
    if not zone:
        offset = time.localtime(ref).tm_gmtoff  # Go's FixedZone(reference.Zone()): the local offset now
    elif zone == "Z":
        offset = 0
    else:
        offset = (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * (-1 if zone[0] == "-" else 1)
    return int(wall.timestamp()) - offset + int(f.get("f", "")[:9].ljust(9, "0")) / 1e9


def _quote(value: str) -> str:
    """Go's %q for the values people type."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
