"""The compiled-filter cache: one file per config, found again by any process, rebuilt when damaged."""

from __future__ import annotations

import json
from pathlib import Path

from berth.seccomp.cache import COMPILER_VERSION, cache_key, cached_filter
from berth.seccomp.compile import compile_filter

SC = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}


def test_key_is_the_canonical_json_digest() -> None:
    import hashlib

    text = json.dumps(SC, sort_keys=True, separators=(",", ":"))
    assert cache_key(SC) == hashlib.sha256(f"{COMPILER_VERSION}\n{text}".encode()).hexdigest()
    reordered = json.loads(json.dumps(dict(reversed(list(SC.items())))))
    assert cache_key(reordered) == cache_key(SC)
    assert cache_key({**SC, "defaultErrnoRet": 38}) != cache_key(SC)


def test_compiled_once_then_read_back(tmp_path: Path) -> None:
    first = cached_filter(SC, str(tmp_path / "cache"))
    files = list((tmp_path / "cache").iterdir())
    assert [f.name for f in files] == [cache_key(SC) + ".bpf"]
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    again = cached_filter(SC, str(tmp_path / "cache"))
    assert (again.program, again.flags) == (first.program, first.flags)
    want = compile_filter(SC)
    assert (first.program, first.flags) == (want.program, want.flags)


def test_damaged_entry_is_compiled_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cached_filter(SC, str(cache))
    entry = cache / (cache_key(SC) + ".bpf")
    entry.write_bytes(b"junk")
    assert cached_filter(SC, str(cache)).program == compile_filter(SC).program


def test_unwritable_cache_still_gives_the_filter(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert cached_filter(SC, str(blocker / "cache")).program == compile_filter(SC).program
    assert cached_filter(SC, None).program == compile_filter(SC).program
