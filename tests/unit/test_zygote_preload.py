"""What the zygote preloads covers every module the shim and the runtime import lazily on their hot paths.

A module missing from the preload is read, compiled or unmarshalled and executed again in every forked shim or
runtime child that needs it (about a millisecond per container start), and its pages are not shared.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
# loaded only off the hot path: a seccomp profile not in the cache, device rules as eBPF on a pure cgroup2 host
RARELY_NEEDED = {"berth.seccomp.compile", "berth.seccomp.bpf", "berth.kernel.bpf_asm"}
_LAZY = re.compile(r"^\s+(?:from (berth[\w.]*) import|import (berth[\w.]*))", re.M)


def _lazy_imports() -> set[str]:
    found: set[str] = set()
    for part in ("runtime", "shim", "seccomp", "kernel", "util"):
        for path in (ROOT / "berth" / part).rglob("*.py"):
            found.update(m.group(1) or m.group(2) for m in _LAZY.finditer(path.read_text()))
    return found


def test_every_lazy_import_of_the_shim_and_runtime_is_preloaded() -> None:
    code = "import sys; from berth.zygote import server; server._preload(); print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT)}).stdout
    loaded = set(out.split())
    assert "berth.runtime.warmup" in _lazy_imports()
    assert _lazy_imports() - loaded == RARELY_NEEDED
