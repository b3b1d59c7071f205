"""A container process whose execve fails after `start` (a hostile binary) says why on stderr, as runc does."""

from __future__ import annotations

import os
from typing import Any

import pytest

pytestmark = pytest.mark.privileged


def test_exec_failure_is_told_like_runc(make_bundle: Any, runtime: Any, runc: Any) -> None:
    answers = {}
    for name, rt in (("berth", runtime), ("runc", runc)):
        b = make_bundle(f"execfail-{name}")
        junk = b.rootfs / "bin" / "junk"
        junk.write_bytes(b"\x00\x01not an executable")
        os.chmod(junk, 0o755)
        b.write_config(["/bin/junk"])
        rt.ids.append(b.id)
        res = rt("run", "--bundle", str(b.path), b.id, check=False)
        answers[name] = (res.returncode, res.stderr)
    assert answers["berth"] == (1, "exec /bin/junk: exec format error\n")
    assert answers["runc"] == answers["berth"]
