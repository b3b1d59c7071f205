"""The escape battery, driven by the real docker CLI against berthd: what a default container cannot do,
what --privileged opens, and that the host is left as it was.

Probes that only a seccomp profile denies are checked apart (`needs_seccomp`): they must be denied as soon
as `docker info` claims seccomp, and are reported as expected failures (never silently skipped) until then.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.daemon_harness import Daemon
from tests.e2e.security import probe

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def probe_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    return probe.build(str(tmp_path_factory.mktemp("probe")))


@pytest.fixture(scope="module")
def host_state() -> Iterator[dict[str, str]]:
    """What the battery must not change on the host."""
    def snapshot() -> dict[str, str]:
        with open("/proc/sys/kernel/panic") as f:
            panic = f.read()
        with open("/proc/self/mountinfo") as f:
            mnt = sorted(line.split()[4] for line in f if line.split()[4].startswith("/mnt"))
        return {"hostname": socket.gethostname(), "panic": panic, "mnt": json.dumps(mnt)}

    before = snapshot()
    yield before
    after = snapshot()
    assert after == before
    assert time.time() > 1.7e9  # nobody's `date -s 2001-01-01` reached the host clock


def _run(d: Daemon, probe_bin: str, *opts: str, script: str) -> str:
    res = d.docker("run", "--rm", "-v", f"{probe_bin}:/probe:ro", *opts, "busybox", "sh", "-c", script)
    assert res.returncode == 0, res.stderr.decode() + d.read_log()
    return res.stdout.decode()


def seccomp_claimed(d: Daemon) -> bool:
    res = d.docker("info", "--format", "{{json .SecurityOptions}}")
    assert res.returncode == 0, res.stderr.decode()
    return any(o.startswith("name=seccomp") for o in json.loads(res.stdout or b"[]") or [])


def needs_seccomp(d: Daemon, name: str, answer: str) -> None:
    """A probe only seccomp denies: berthd applies Docker's default profile, and says so in `docker info`."""
    assert seccomp_claimed(d), "docker info does not list seccomp among the security options"
    assert answer == "EPERM", f"{name} succeeded although the default seccomp profile applies ({answer})"


@pytest.fixture(scope="module")
def default_answers(berthd: Daemon, probe_bin: str, host_state: dict[str, str]) -> dict[str, str]:
    assert berthd.proc is not None
    return probe.parse(_run(berthd, probe_bin, script=probe.script(berthd.proc.pid)))


@pytest.mark.parametrize("name", sorted(probe.cap_only_expect()))
def test_default_container_is_denied(default_answers: dict[str, str], name: str) -> None:
    assert default_answers.get(name) in probe.cap_only_expect()[name], default_answers


@pytest.mark.parametrize("name", probe.seccomp_only_probes())
def test_seccomp_only_probes(berthd: Daemon, default_answers: dict[str, str], name: str) -> None:
    needs_seccomp(berthd, name, default_answers[name])


def test_security_options_tell_the_truth(berthd: Daemon, probe_bin: str) -> None:
    out = _run(berthd, probe_bin, script="grep Seccomp: /proc/1/status")
    filtered = out.split()[1] == "2"
    assert seccomp_claimed(berthd) == filtered, out


def test_users_see_dockers_messages(berthd: Daemon, probe_bin: str, host_state: dict[str, str]) -> None:
    out = berthd.docker("run", "--rm", "busybox", "sh", "-c",
                        "mkdir -p /mnt; mount -t tmpfs none /mnt; date -s 2001-01-01; hostname evil;"
                        "unshare -m true; echo 1 > /proc/sys/kernel/panic; modprobe dummy;"
                        "echo 1 > /sys/kernel/profiling; true").stderr.decode()
    for text in ("mount: permission denied (are you root?)", "date: can't set date: Operation not permitted",
                 "hostname: sethostname: Operation not permitted",
                 "unshare: unshare(0x20000): Operation not permitted",
                 "sh: can't create /proc/sys/kernel/panic: Read-only file system",
                 "modprobe: can't change directory to '/lib/modules': No such file or directory",
                 "sh: can't create /sys/kernel/profiling: Read-only file system"):
        assert text in out


def _caps(status: str) -> dict[str, int]:
    return {k: int(v, 16) for k, v in (line.split(":") for line in status.splitlines() if line.startswith("Cap"))}


def test_privileged_opens_what_docker_documents(berthd: Daemon, probe_bin: str, host_state: dict[str, str]) -> None:
    assert berthd.proc is not None
    out = _run(berthd, probe_bin, "--privileged",
               script=probe.script(berthd.proc.pid) + "; grep -w /sys /proc/mounts; grep Cap /proc/1/status")
    answers = probe.parse(out)
    for name, allowed in probe.PRIVILEGED_EXPECT.items():
        assert answers.get(name) in allowed, (name, answers)
    assert any(line.startswith("sysfs /sys sysfs rw,") for line in out.splitlines())
    with open("/proc/self/status") as f:
        host_bounding = _caps(f.read())["CapBnd"]
    caps = _caps(out)
    assert caps["CapBnd"] == caps["CapEff"] == caps["CapPrm"] == host_bounding
