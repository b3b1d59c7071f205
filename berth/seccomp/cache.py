"""Compiled filters cached on disk (seccomp layer): one file per OCI seccomp config, keyed by sha256.

The key is the sha256 of the compiler's version and the config's canonical JSON (sorted keys, no spaces,
what `json.dumps(sort_keys=True, separators=(",", ":"))` gives), so every process computes the same key.
It is made with `_json`'s string encoder and `_sha256`: `import json` (re) and `hashlib` (OpenSSL) would
cost the runtime's start more than the lookup saves. A file is `flags` (4 bytes, little-endian) then the
sock_filter array; it is written atomically in a root-only directory, and a missing or unreadable one is
compiled again.
"""

from __future__ import annotations

import os
import struct

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

    from berth.seccomp.filter import Filter

__all__ = ["COMPILER_VERSION", "cache_key", "cached_filter"]

COMPILER_VERSION = "berth-seccomp-1"  # bump when the compiler or the syscall tables change


def _default(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _canonical(obj: Any) -> str:
    """json.dumps(obj, sort_keys=True, separators=(",", ":")) with _json's C encoder, without `import json`."""
    try:
        import _json

        encode = _json.make_encoder(None, _default, _json.encode_basestring_ascii, None, ":", ",", True, False, True)
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - other Pythons
        import json

        return json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return "".join(encode(obj, 0))


def cache_key(seccomp: dict[str, Any]) -> str:
    """sha256 hex of the compiler version and the canonical JSON of `seccomp`."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:  # Python 3.12+ calls it _sha2
        from hashlib import sha256
    return str(sha256(f"{COMPILER_VERSION}\n{_canonical(seccomp)}".encode()).hexdigest())


def cached_filter(seccomp: dict[str, Any], cache_dir: str | None) -> Filter:
    """The compiled filter for `seccomp`, from `cache_dir` when there (compiled and stored when not)."""
    from berth.seccomp.filter import Filter

    path = os.path.join(cache_dir, cache_key(seccomp) + ".bpf") if cache_dir else None
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = f.read()
            if len(data) >= 12 and (len(data) - 4) % 8 == 0:
                return Filter(data[4:], struct.unpack_from("<I", data)[0])
        except OSError:
            pass
    from berth.seccomp.compile import compile_filter

    filt = compile_filter(seccomp)
    if path is not None and cache_dir is not None:
        try:
            os.makedirs(cache_dir, 0o700, exist_ok=True)
            from berth.util.atomic import write_atomic

            write_atomic(path, struct.pack("<I", filt.flags) + filt.program, 0o600)
        except OSError:
            pass  # a read-only or full cache only costs the next start a compile
    return filt
