"""The spare's spawn (berth.runtime.execspare): what the process it starts gets, and how a failed start is told."""

from __future__ import annotations

import os

import pytest

from berth.runtime.cgroups import Cgroups
from berth.runtime.errors import RuntimeFailure
from berth.runtime.execspare import _fork_exec, _spawner, same_but_command, suits


def _run(start: object, argv: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Start argv[0] with stdin from /dev/null and stdout/stderr on a pipe; its exit code and output."""
    r, w = os.pipe2(os.O_CLOEXEC)
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        pid = start(argv[0], argv, env, [null, w, w])  # type: ignore[operator]
        if callable(pid):  # a spawner: what starts it at the go
            pid = pid()
    finally:
        os.close(w)
        os.close(null)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


@pytest.mark.parametrize("start", [_spawner, _fork_exec])
def test_the_process_gets_its_argv_env_stdio_and_a_session_of_its_own(start: object) -> None:
    code, out = _run(start, ["/bin/sh", "-c", 'echo "$0 $X"; set -- $(cat /proc/$$/stat); echo "$1 $6"; '
                             "grep '^SigBlk' /proc/self/status; exit 5"], {"X": "from-env"})
    assert code == 5
    lines = out.decode().splitlines()
    assert lines[0] == "/bin/sh from-env"
    pid, session = lines[1].split()
    assert pid == session
    assert lines[2] == "SigBlk:\t0000000000000000"  # (what it ignores is the spare's to set: the e2e tests)


@pytest.mark.parametrize("start", [_spawner, _fork_exec])
def test_a_program_that_cannot_start_is_an_error_with_its_reason(start: object, tmp_path: object) -> None:
    with pytest.raises((OSError, RuntimeFailure), match="No such file or directory"):
        _run(start, ["/no/such/program"], {})


def test_a_spare_starts_no_terminal_process_nor_one_under_a_process_count_limit() -> None:
    assert suits({"args": ["true"]})
    assert not suits({"args": ["sh"], "terminal": True})
    assert not suits({"args": ["true"], "rlimits": [{"type": "RLIMIT_NPROC", "hard": 5, "soft": 5}]})
    assert suits({"args": ["true"], "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 5, "soft": 5}]})


def test_a_spare_set_up_for_one_process_can_start_another_that_differs_only_in_command_and_env() -> None:
    base = {"args": ["true"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_CHOWN"]}, "noNewPrivileges": False}
    assert same_but_command({**base, "args": ["cat", "/etc/hostname"], "env": ["PATH=/bin", "X=1"]}, base)
    assert not same_but_command({**base, "user": {"uid": 1000, "gid": 1000}}, base)
    assert not same_but_command({**base, "cwd": "/tmp"}, base)
    assert not same_but_command({**base, "capabilities": {"bounding": []}}, base)
    assert not same_but_command({**base, "noNewPrivileges": True}, base)
    assert not same_but_command({**base, "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10}]}, base)


def test_the_room_under_a_pids_limit_is_the_least_any_hierarchy_leaves(tmp_path: object) -> None:
    import pathlib

    base = pathlib.Path(str(tmp_path))
    memory, pids, unified = base / "memory", base / "pids", base / "unified"
    for d in (memory, pids, unified):
        d.mkdir()
    (memory / "memory.limit_in_bytes").write_text("1048576\n")
    for d in (pids, unified):
        (d / "pids.max").write_text("max\n")
        (d / "pids.current").write_text("3\n")
    groups = Cgroups([str(memory), str(pids), str(unified)], str(unified), pure_v2=False)
    assert groups.pids_room() is None  # no limit anywhere
    (pids / "pids.max").write_text("5\n")
    assert groups.pids_room() == 2
    (unified / "pids.max").write_text("4\n")
    assert groups.pids_room() == 1
