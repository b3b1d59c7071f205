"""Compiled filters cached on disk (seccomp layer): one file per OCI seccomp config, keyed by sha256.

The key is the sha256 of the compiler's version and the config's canonical JSON (sorted keys, no spaces),
so the daemon (which compiles at create time to check the profile) and the runtime (which loads it) find
the same entry. A file is `flags` (4 bytes, little-endian) then the sock_filter array; it is written
atomically in a root-only directory, and a missing or unreadable one is compiled again.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

    from berth.seccomp.compile import Filter

__all__ = ["COMPILER_VERSION", "cache_key", "cached_filter"]

COMPILER_VERSION = "berth-seccomp-1"


def cache_key(seccomp: dict[str, Any]) -> str:
    """sha256 hex of the compiler version and the canonical JSON of `seccomp`."""
    text = json.dumps(seccomp, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{COMPILER_VERSION}\n{text}".encode()).hexdigest()


def cached_filter(seccomp: dict[str, Any], cache_dir: str | None) -> Filter:
    """The compiled filter for `seccomp`, from `cache_dir` when there (compiled and stored when not)."""
    from berth.seccomp.compile import Filter

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
