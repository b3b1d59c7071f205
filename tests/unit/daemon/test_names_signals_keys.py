"""Container naming, signal parsing and detach-key detection behave as docker's."""

from __future__ import annotations

import signal

import pytest

from berth import errdefs
from berth.daemon.containers.detachkeys import DetachScanner, parse_detach_keys
from berth.daemon.containers.names import NameIndex
from berth.daemon.containers.signals import parse_signal

A = "a" * 64
B = "ab" + "c" * 62


def test_name_conflict_uses_docker_text() -> None:
    idx = NameIndex()
    idx.reserve("web", A)
    with pytest.raises(errdefs.Conflict, match=r'The container name "/web" is already in use by container "a{64}"'):
        idx.reserve("/web", B)


def test_resolve_by_name_id_and_prefix() -> None:
    idx = NameIndex()
    idx.reserve("web", A)
    idx.reserve("db", B)
    assert idx.resolve("web") == A
    assert idx.resolve("/db") == B
    assert idx.resolve("abc") == B
    assert idx.resolve(A) == A
    with pytest.raises(errdefs.InvalidParameter, match="multiple IDs"):
        idx.resolve("a")
    with pytest.raises(errdefs.NotFound, match="No such container: zzz"):
        idx.resolve("zzz")


def test_invalid_name_rejected() -> None:
    with pytest.raises(errdefs.InvalidParameter, match="Invalid container name"):
        NameIndex().reserve("-bad", A)


def test_forget_frees_the_name() -> None:
    idx = NameIndex()
    idx.reserve("web", A)
    idx.forget(A, "web")
    assert idx.reserve("web", B) == "web"


@pytest.mark.parametrize(
    ("text", "number"),
    [("TERM", 15), ("SIGTERM", 15), ("15", 15), ("kill", 9), ("SIGRTMIN+3", signal.SIGRTMIN + 3), ("HUP", 1)],
)
def test_signal_forms(text: str, number: int) -> None:
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["SIGFOO", "0", "999", "RTMIN+x"])
def test_bad_signals(text: str) -> None:
    with pytest.raises(errdefs.InvalidParameter, match="Invalid signal"):
        parse_signal(text)


def test_detach_keys_parse() -> None:
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("a,ctrl-[") == b"a\x1b"
    with pytest.raises(errdefs.InvalidParameter):
        parse_detach_keys("ctrl-pp")


def test_detach_scanner_passes_partial_matches_through() -> None:
    s = DetachScanner(b"\x10\x11")
    assert s.feed(b"ab\x10") == (b"ab", False)
    assert s.feed(b"x") == (b"\x10x", False)
    assert s.feed(b"\x10") == (b"", False)
    assert s.feed(b"\x11rest") == (b"", True)
