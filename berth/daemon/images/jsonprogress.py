"""jsonmessage progress records (services layer) as dockerd's pull/push streams carry them."""

from __future__ import annotations

from typing import Any

__all__ = ["progress"]


def _human(size: float) -> str:
    units = ("B", "kB", "MB", "GB", "TB")
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.4g}{units[i]}"


def _bar(current: int, total: int) -> str:
    """jsonmessage's JSONProgress.String() at dockerd's width: `[==>   ]  3.645kB/300.3kB`."""
    if total <= 0:
        return f"{_human(current):>8}"
    pct = min(int(current / total * 100) // 2, 50)
    box = "[" + "=" * pct + ">" + " " * (50 - pct) + "] "
    if current > total:
        return box + f"{_human(current):>8}"
    return box + f"{_human(current):>8}/{_human(total)}"


def progress(status: str, id_: str | None = None, current: int | None = None, total: int | None = None
             ) -> dict[str, Any]:
    """`{"status","progressDetail","progress"?,"id"}`; with `current`, the detail and the bar text."""
    msg: dict[str, Any] = {"status": status, "progressDetail": {}}
    if current is not None:
        msg["progressDetail"] = {"current": current, "total": total} if total else {"current": current}
        msg["progress"] = _bar(current, total or 0)
    if id_ is not None:
        msg["id"] = id_
    return msg
