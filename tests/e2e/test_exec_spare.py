"""After execs in a row, the shim forks a spare for the next one (berth.runtime.execspare): execs started by a
spare must be the same processes as the others, and the spare must stay out of the container."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.daemon_harness import Daemon, eventually, ok

pytestmark = pytest.mark.e2e


def _spares() -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "berth-exec":
                        found.add(int(entry))
            except OSError:
                continue
    return found


def _parent(pid: int) -> int:
    """Its parent's pid; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
    except OSError:
        return 0


def _shim_pids(d: Daemon, cid: str) -> set[int]:
    """The worker and keeper of the container's shim (the init's parent and that one's parent)."""
    init = int(ok(d.docker("inspect", "-f", "{{.State.Pid}}", cid)).strip())
    first = _parent(init)
    return {first, _parent(first)}


@pytest.fixture
def container(berthd: Daemon) -> Iterator[str]:
    cid = ok(berthd.docker("run", "-d", "--name", "spare-host", "busybox", "sleep", "1000")).strip()
    try:
        yield cid
    finally:
        berthd.docker("rm", "-f", cid)


def _spare_of(d: Daemon, cid: str) -> int:
    """Run two execs in a row, then wait for the spare that follows them; its pid."""
    ok(d.docker("exec", cid, "true"))
    ok(d.docker("exec", cid, "true"))
    shims = _shim_pids(d, cid)
    found: list[int] = []
    assert eventually(lambda: bool(found.extend(p for p in _spares() if _parent(p) in shims) or found), 10)
    return found[0]


def _spare_of_cwd(d: Daemon, cid: str, cwd: str) -> int:
    """An exec in `cwd` after one there: the spare that follows is set up for the same; its pid."""
    ok(d.docker("exec", "-w", cwd, cid, "true"))
    shims = _shim_pids(d, cid)
    found: list[int] = []
    assert eventually(lambda: bool(found.extend(p for p in _spares() if _parent(p) in shims) or found), 10)
    return found[0]


def test_a_lone_exec_gets_no_spare_and_execs_in_a_row_do(berthd: Daemon, container: str) -> None:
    ok(berthd.docker("exec", container, "true"))
    shims = _shim_pids(berthd, container)
    time.sleep(0.2)  # a spare comes 10 ms after the exec that makes one
    assert not [p for p in _spares() if _parent(p) in shims]  # a healthcheck now and then forks nothing for nothing
    ok(berthd.docker("exec", container, "true"))
    assert eventually(lambda: bool([p for p in _spares() if _parent(p) in shims]), 10)


def test_an_exec_after_the_first_starts_from_a_spare_as_any_exec(berthd: Daemon, container: str) -> None:
    spare = _spare_of(berthd, container)
    res = berthd.docker("exec", "-u", "1000:1000", "-w", "/tmp", "-e", "X=from-exec", container,
                        "sh", "-c", "id -u; id -g; pwd; echo $X; echo to-stderr >&2; exit 7")
    assert res.returncode == 7
    assert res.stdout.decode().split() == ["1000", "1000", "/tmp", "from-exec"]
    assert res.stderr.decode().strip() == "to-stderr"
    assert not os.path.exists(f"/proc/{spare}")  # used up: it spawned the process and exited

    # stdin reaches the process and so does its end: the spare kept none of the shim's fds open
    _spare_of(berthd, container)
    res = berthd.docker("exec", "-i", container, "cat", input=b"line one\nline two\n", timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"line one\nline two\n"


def test_a_spare_set_up_ahead_starts_the_next_exec_with_its_stdio_only(berthd: Daemon, container: str) -> None:
    # the spare after two `true`s is set up for that process already: `ls` differs in its command only
    spare = _spare_of(berthd, container)
    fds = ok(berthd.docker("exec", container, "ls", "/proc/self/fd")).split()
    assert not os.path.exists(f"/proc/{spare}")  # it was the one that started it
    assert fds == ["0", "1", "2", "3"]  # its stdio, and the directory ls reads: nothing of the spare's
    _spare_of(berthd, container)
    res = berthd.docker("exec", "-e", "HOME=/elsewhere", container, "sh", "-c", "echo $HOME")
    assert ok(res).strip() == "/elsewhere"


def test_a_spare_set_up_in_a_directory_since_replaced_or_removed_is_not_used(berthd: Daemon, container: str) -> None:
    init = int(ok(berthd.docker("inspect", "-f", "{{.State.Pid}}", container)).strip())
    wd = f"/proc/{init}/root/tmp/wd"  # changed from outside: an exec would use up the spare
    lone = berthd.docker("exec", "-w", "/tmp/missing", container, "true")  # a fresh start says what is wrong
    os.mkdir(wd)
    ok(berthd.docker("exec", "-w", "/tmp/wd", container, "true"))
    spare = _spare_of_cwd(berthd, container, "/tmp/wd")  # it went into /tmp/wd ahead of the next exec
    os.rmdir(wd)
    os.mkdir(wd)
    open(f"{wd}/marker", "w").close()
    assert ok(berthd.docker("exec", "-w", "/tmp/wd", container, "ls")).split() == ["marker"]  # the new one
    assert not os.path.exists(f"/proc/{spare}")

    _spare_of_cwd(berthd, container, "/tmp/wd")
    os.remove(f"{wd}/marker")
    os.rmdir(wd)
    gone = berthd.docker("exec", "-w", "/tmp/wd", container, "true")
    assert gone.returncode == lone.returncode != 0
    assert gone.stderr.decode().replace("/tmp/wd", "/tmp/missing") == lone.stderr.decode()


def test_a_process_from_a_spare_has_the_containers_confinement(berthd: Daemon, container: str) -> None:
    def status(*args: str) -> dict[str, str]:
        out = ok(berthd.docker("exec", *args, container, "cat", "/proc/self/status"))
        return {k: v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}

    first = status()  # the first exec of the container: forked as before, no spare yet
    _spare_of(berthd, container)
    spared = status()
    init = {k: v.strip() for k, _, v in (line.partition(":") for line in
                                        ok(berthd.docker("exec", container, "cat", "/proc/1/status")).splitlines())}
    for key in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "Seccomp", "NoNewPrivs", "Uid", "Gid"):
        assert spared[key] == first[key] == init[key], key
    assert spared["SigBlk"] == spared["SigIgn"] == "0000000000000000"  # nothing blocked or ignored at its start
    _spare_of(berthd, container)
    cgroups = ok(berthd.docker("exec", container, "cat", "/proc/self/cgroup"))
    assert cgroups == ok(berthd.docker("exec", container, "cat", "/proc/1/cgroup"))
    _spare_of(berthd, container)
    assert ok(berthd.docker("exec", container, "cat", "/proc/self/oom_score_adj")) == \
        ok(berthd.docker("exec", container, "cat", "/proc/1/oom_score_adj"))


def test_a_spare_is_nowhere_in_the_container(berthd: Daemon, container: str) -> None:
    spare = _spare_of(berthd, container)
    top = ok(berthd.docker("top", container))
    assert str(spare) not in top.split()  # not in its cgroups while it waits
    assert "sleep 1000" in top
    _spare_of(berthd, container)
    ps = ok(berthd.docker("exec", container, "ps", "-o", "pid,comm"))
    assert sorted(line.split()[1] for line in ps.splitlines()[1:]) == ["ps", "sleep"]  # nor its pid namespace
    missing = berthd.docker("exec", container, "no-such-command")
    assert missing.returncode == 127
    assert b"executable file not found" in missing.stderr


def test_the_spare_goes_with_the_container(berthd: Daemon, container: str) -> None:
    spare = _spare_of(berthd, container)
    ok(berthd.docker("stop", "-t", "1", container))
    assert eventually(lambda: not os.path.exists(f"/proc/{spare}"), 10)
    assert ok(berthd.docker("start", container))
    spare = _spare_of(berthd, container)
    ok(berthd.docker("rm", "-f", container))
    assert eventually(lambda: not os.path.exists(f"/proc/{spare}"), 10)


def test_execs_in_a_row_under_a_tight_pids_limit_start(berthd: Daemon) -> None:
    # a spare and its process would be two more: with room for one, the exec is forked into the container
    cid = ok(berthd.docker("run", "-d", "--pids-limit", "2", "busybox", "sleep", "1000")).strip()
    try:
        for _ in range(4):
            assert ok(berthd.docker("exec", cid, "echo", "in")).strip() == "in"
        shims = _shim_pids(berthd, cid)
        time.sleep(0.2)
        assert not [p for p in _spares() if _parent(p) in shims]  # not for this container
    finally:
        berthd.docker("rm", "-f", cid)
