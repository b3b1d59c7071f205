"""JSON on CPython's C codec alone: the `json` package also loads `re`, which costs every idle shim about a
megabyte and every CLI command milliseconds. Invalid input raises ValueError (json's, loaded only then)."""

from __future__ import annotations

import _json

__all__ = ["dumps", "loads"]

_WHITESPACE = " \t\n\r"


class _DecoderSettings:
    """The attributes `_json.make_scanner` reads, with json.JSONDecoder()'s defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


def _unsupported(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_scan = _json.make_scanner(_DecoderSettings())  # type: ignore[arg-type]  # it reads the attributes only
_ENCODERS = {
    ascii_only: _json.make_encoder(
        {}, _unsupported, _json.encode_basestring_ascii if ascii_only else _json.encode_basestring,
        None, ":", ",", False, False, True,
    )
    for ascii_only in (True, False)
}


def dumps(obj: object, ascii_only: bool = True) -> str:
    """Compact JSON text of `obj` (dicts, lists, str, int, float, bool, None)."""
    if isinstance(obj, str):
        return _json.encode_basestring_ascii(obj) if ascii_only else _json.encode_basestring(obj)
    return "".join(_ENCODERS[ascii_only](obj, 0))


def _slow_loads(text: str) -> object:
    import json

    return json.loads(text)  # raises json.JSONDecodeError, a ValueError, with json's own message


def loads(data: str | bytes | bytearray) -> object:
    """Parse one JSON document; ValueError when it is not one."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        obj, end = _scan(text, start)
    except (StopIteration, SystemError):
        return _slow_loads(text)  # the C scanner reports errors through json.decoder only
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"extra data after JSON at position {end}")
    return obj
