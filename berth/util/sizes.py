"""go-units size parsing, as docker's CLI and daemon read "64m" or "10MiB": binary (RAMInBytes) or decimal
(FromHumanSize) multiples, with their error texts."""

from __future__ import annotations

import re

__all__ = ["BINARY", "DECIMAL", "parse_size"]

BINARY = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
DECIMAL = {"k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def parse_size(text: str, multiples: dict[str, int]) -> int:
    """Bytes in `text`: a number, an optional space, an optional unit ("k", "kb", "KiB" read alike);
    ValueError with go-units' text otherwise."""
    sep = max(text.rfind(ch) for ch in "0123456789. ")
    if sep < 0:
        raise ValueError(f"invalid size: '{text}'")
    num, sfx = (text[:sep + 1], text[sep + 1:]) if text[sep] != " " else (text[:sep], text[sep + 1:])
    if not _NUMBER.fullmatch(num):
        raise ValueError(f'strconv.ParseFloat: parsing "{num}": invalid syntax')
    size = float(num)
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if len(sfx) > 3:
        raise ValueError(f"invalid suffix: '{sfx}'")
    low = sfx.lower()
    if low in ("", "b"):
        return int(size)
    mul = multiples.get(low[0], 0)
    if not mul or low[1:] not in ("", "b", "ib"):
        raise ValueError(f"invalid suffix: '{low}'")
    return int(size * mul)
