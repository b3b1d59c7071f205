"""JSON for the runtime's start-up path (runtime layer): CPython's C codec without the `json` package.

`import json` pulls in `re` (json.decoder) and costs a few milliseconds of every container start; the
C scanner and encoder of `_json` do the same work. Falls back to `json` where `_json` is missing.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["dumps", "loads"]


def _constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)
    memo: dict[str, str] = {}


def _default(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_scan: Any = None
_encode: Any = None
try:
    import _json

    _ctx: Any = _ScanContext()
    _scan = _json.make_scanner(_ctx)
    _encode = _json.make_encoder(None, _default, _json.encode_basestring_ascii, None, ":", ",", False, False, True)
except (ImportError, AttributeError, TypeError):  # pragma: no cover - other Pythons
    pass


def loads(data: str | bytes) -> Any:
    """Parse one JSON document."""
    text = data.decode() if isinstance(data, bytes) else data
    text = text.strip(" \t\n\r")
    if _scan is None:
        import json

        return json.loads(text)
    try:
        obj, end = _scan(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        import json

        return json.loads(text)  # raises the usual JSONDecodeError with its position
    return obj


def dumps(obj: object) -> str:
    """Compact JSON (ASCII, like json.dumps with separators=(",", ":"))."""
    if _encode is None:
        import json

        return json.dumps(obj, separators=(",", ":"))
    return "".join(_encode(obj, 0))
