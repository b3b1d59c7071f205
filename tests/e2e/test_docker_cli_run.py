"""The real docker CLI drives berthd: run and its flags, exit codes, create/start, stop/kill/restart/rm."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.daemon_harness import Daemon, ok

pytestmark = pytest.mark.e2e


def inspect(d: Daemon, ref: str) -> dict:  # type: ignore[type-arg]
    return json.loads(ok(d.docker("inspect", ref)))[0]  # type: ignore[no-any-return]


def test_version_and_info(berthd: Daemon) -> None:
    out = ok(berthd.docker("version"))
    assert "API version:      1.44" in out
    info = ok(berthd.docker("info"))
    assert "Storage Driver: overlay2" in info
    assert f"Docker Root Dir: {berthd.data_root}" in info
    assert "Cgroup Version:" in info


def test_run_echo_and_rm(berthd: Daemon) -> None:
    out = ok(berthd.docker("run", "--rm", "--name", "echoer", "busybox", "echo", "hello from berth"))
    assert out == "hello from berth\n"
    assert "echoer" not in ok(berthd.docker("ps", "-a", "--format", "{{.Names}}"))


def test_exit_code_propagates(berthd: Daemon) -> None:
    res = berthd.docker("run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert res.returncode == 3


def test_command_not_found_is_127(berthd: Daemon) -> None:
    res = berthd.docker("run", "--rm", "busybox", "/no/such/binary")
    assert res.returncode == 127


def _signal_fields(status: str) -> dict[str, str]:
    return dict(line.split(":\t") for line in status.splitlines() if line.startswith(("SigIgn", "SigBlk")))


def test_container_processes_start_with_default_signal_actions(berthd: Daemon) -> None:
    """No signal ignored or blocked in init or in an exec'd process, as under dockerd: berthd, its zygote and its
    shims are Python processes (SIGPIPE and SIGXFSZ ignored), and what is ignored survives execve."""
    defaults = {"SigIgn": "0000000000000000", "SigBlk": "0000000000000000"}
    out = ok(berthd.docker("run", "--rm", "busybox", "cat", "/proc/self/status"))
    assert _signal_fields(out) == defaults
    cid = ok(berthd.docker("run", "-d", "busybox", "sleep", "1000")).strip()
    try:
        assert _signal_fields(ok(berthd.docker("exec", cid, "cat", "/proc/1/status"))) == defaults
        assert _signal_fields(ok(berthd.docker("exec", cid, "cat", "/proc/self/status"))) == defaults
        # what a user notices: a pipe's writer dies of SIGPIPE once its reader is gone (141), not of EPIPE
        assert ok(berthd.docker("exec", cid, "sh", "-c", "(yes; echo $? >/tmp/st) | head -c1 >/dev/null; "
                                "cat /tmp/st")) == "141\n"
    finally:
        berthd.docker("rm", "-f", cid)


def test_run_flags_shape_the_process(berthd: Daemon, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("FROM_FILE=yes\n# comment\n")
    out = ok(berthd.docker(
        "run", "--rm", "-e", "A=1", "--env-file", str(env_file), "-w", "/tmp", "-u", "1000:50", "-h", "myhost",
        "-l", "team=core", "busybox", "sh", "-c", 'echo "$A $FROM_FILE $(pwd) $(id -u):$(id -g) $(hostname)"',
    ))
    assert out.strip() == "1 yes /tmp 1000:50 myhost"


def test_user_by_name_from_image_passwd(berthd: Daemon) -> None:
    assert ok(berthd.docker("run", "--rm", "-u", "nobody", "busybox", "id", "-u")).strip() == "65534"
    res = berthd.docker("run", "--rm", "-u", "ghost", "busybox", "true")
    assert res.returncode != 0
    assert b"unable to find user ghost" in res.stderr


def test_entrypoint_override(berthd: Daemon) -> None:
    assert ok(berthd.docker("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b")) == "a b\n"


def test_stdin_with_i(berthd: Daemon) -> None:
    res = berthd.docker("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z; echo done >&2", input=b"abc\n")
    assert res.returncode == 0
    assert res.stdout == b"ABC\n"
    assert res.stderr == b"done\n"


def test_init_reaps_as_pid1(berthd: Daemon) -> None:
    out = ok(berthd.docker("run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm"))
    assert "tini" in out.splitlines()[1] or "docker-init" in out.splitlines()[1]


def test_detached_run_logs_stop_and_rm(berthd: Daemon) -> None:
    cid = ok(berthd.docker("run", "-d", "--name", "looper", "--stop-timeout", "1", "busybox", "sh", "-c",
                           "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done")).strip()
    assert len(cid) == 64
    time.sleep(0.6)
    state = inspect(berthd, "looper")
    assert state["State"]["Running"] is True
    assert state["Config"]["StopTimeout"] == 1
    logs = ok(berthd.docker("logs", "--tail", "2", "looper"))
    assert len(logs.splitlines()) == 2
    assert ok(berthd.docker("logs", "looper")).startswith("line0\n")
    ok(berthd.docker("stop", "looper"))
    state = inspect(berthd, "looper")
    assert state["State"]["Status"] == "exited"
    assert state["State"]["ExitCode"] == 137  # sh ignores TERM as pid 1: killed after the 1 s timeout
    ok(berthd.docker("rm", "looper"))
    res = berthd.docker("inspect", "looper")
    assert res.returncode == 1
    assert b"No such object: looper" in res.stderr


def test_stop_signal_is_used(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "trapper", "--stop-signal", "USR1", "busybox", "sh", "-c",
                     "trap 'echo got usr1; exit 7' USR1; while true; do sleep 0.1; done"))
    time.sleep(0.4)
    ok(berthd.docker("stop", "-t", "5", "trapper"))
    assert inspect(berthd, "trapper")["State"]["ExitCode"] == 7
    assert "got usr1" in ok(berthd.docker("logs", "trapper"))
    ok(berthd.docker("rm", "trapper"))


def test_create_start_attach_and_wait(berthd: Daemon) -> None:
    ok(berthd.docker("create", "--name", "later", "busybox", "sh", "-c", "echo started; exit 4"))
    assert inspect(berthd, "later")["State"]["Status"] == "created"
    res = berthd.docker("start", "-a", "later")
    assert res.returncode == 4
    assert res.stdout == b"started\n"
    assert ok(berthd.docker("wait", "later")).strip() == "4"
    ok(berthd.docker("rm", "later"))


def test_start_i_passes_stdin(berthd: Daemon) -> None:
    ok(berthd.docker("create", "-i", "--name", "cat1", "busybox", "cat"))
    res = berthd.docker("start", "-a", "-i", "cat1", input=b"through start\n")
    assert res.stdout == b"through start\n"
    ok(berthd.docker("rm", "cat1"))


def test_kill_with_signal_and_restart(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "victim", "busybox", "sh", "-c",
                     "trap 'exit 9' HUP; while true; do sleep 0.1; done"))
    time.sleep(0.3)
    ok(berthd.docker("kill", "-s", "HUP", "victim"))
    assert ok(berthd.docker("wait", "victim")).strip() == "9"
    ok(berthd.docker("restart", "-t", "1", "victim"))
    st = inspect(berthd, "victim")
    assert st["State"]["Running"] is True
    assert st["RestartCount"] >= 0
    res = berthd.docker("rm", "victim")
    assert res.returncode == 1
    assert b"container is running" in res.stderr
    ok(berthd.docker("rm", "-f", "victim"))
    res = berthd.docker("kill", "victim")
    assert b"No such container: victim" in res.stderr


def test_name_conflict_and_missing_image(berthd: Daemon) -> None:
    ok(berthd.docker("create", "--name", "dup", "busybox", "true"))
    res = berthd.docker("create", "--name", "dup", "busybox", "true")
    assert res.returncode != 0
    assert b'The container name "/dup" is already in use' in res.stderr
    ok(berthd.docker("rm", "dup"))
    res = berthd.docker("run", "--rm", "nosuchimage:1", "true")
    assert res.returncode == 125
    assert b"nosuchimage" in res.stderr
