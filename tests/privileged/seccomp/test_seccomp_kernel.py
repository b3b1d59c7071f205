"""Seccomp on the real kernel through berth-runtime: Docker's default profile blocks what Docker blocks,
unconfined does not, exec'd processes get the filter too, and runc on the same config.json answers the same."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.privileged.seccomp.conftest import docker_seccomp, probe_bundle

pytestmark = pytest.mark.privileged

EPERM, ENOSYS = 1, 38


def _run(rt: Any, bundle: Any, cid: str) -> dict[str, str]:
    rt.ids.append(cid)
    res = rt("run", "--bundle", str(bundle.path), cid, check=False)
    rt("delete", "--force", cid, check=False)
    assert res.returncode == 0, res.stderr
    out: dict[str, str] = {}
    for line in res.stdout.splitlines():
        key, _, value = line.partition(" ")
        out[key.rstrip(":")] = value
    return out


def test_default_profile_blocks_what_docker_blocks(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("dflt")
    probe_bundle(b, docker_seccomp())
    got = _run(runtime, b, "dflt")
    assert got["Seccomp"] == "2"
    assert got["Seccomp_filters"] == "1"
    for name in ("unshare-user", "unshare-mount", "keyctl", "add_key", "bpf", "perf_event_open", "kexec_load",
                 "swapon", "reboot-bad-magic", "settimeofday", "clone-newns", "personality-bad", "socket-vsock",
                 "sethostname", "mount", "syslog"):
        assert got[name] == str(EPERM), (name, got)
    assert got["clone3"] == str(ENOSYS)  # glibc falls back to clone
    assert got["nr-1000"] == str(ENOSYS)  # runc's stub: newer than the profile
    for name in ("getpid", "personality-query", "socket-unix"):
        assert got[name] == "0", (name, got)
    assert got["mkdir"] == "14"  # EFAULT: allowed, NULL path
    assert got["ptrace-traceme-bad"] == "3"  # ESRCH: allowed on kernels >= 4.8 (minKernel)
    assert got["chroot"] == "14"  # CAP_SYS_CHROOT is in Docker's set, so chroot is allowed


def test_unconfined_lets_the_same_calls_reach_the_kernel(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("unconf")
    probe_bundle(b, None)
    got = _run(runtime, b, "unconf")
    assert got["Seccomp"] == "0"
    assert got["unshare-user"] == "0"  # a user namespace needs no capability
    assert got["keyctl"] != str(EPERM)
    assert got["clone3"] != str(ENOSYS)
    assert got["personality-bad"] == "0"
    assert got["perf_event_open"] != str(EPERM) or got["bpf"] != str(EPERM)


def test_caps_unlock_their_syscalls(make_bundle: Any, runtime: Any) -> None:
    from tests.privileged.runtime.conftest import DOCKER_CAPS

    caps = [*DOCKER_CAPS, "CAP_SYS_ADMIN"]
    b = make_bundle("sysadm")
    probe_bundle(b, docker_seccomp(caps),
                 capabilities={"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps})
    got = _run(runtime, b, "sysadm")
    assert got["unshare-user"] == "0"
    assert got["unshare-mount"] == "0"
    assert got["clone3"] != str(ENOSYS)
    assert got["keyctl"] == str(EPERM)  # never in the profile


def test_no_new_privileges_and_filter_together(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("nnp")
    probe_bundle(b, docker_seccomp(), noNewPrivileges=True, user={"uid": 1000, "gid": 1000})
    got = _run(runtime, b, "nnp")
    assert (got["NoNewPrivs"], got["Seccomp"]) == ("1", "2")
    assert got["unshare-user"] == str(EPERM)


def test_exec_gets_the_container_filter(make_bundle: Any, runtime: Any, tmp_path: Any) -> None:
    b = make_bundle("ex")
    probe_bundle(b, docker_seccomp(), args=["sleep", "60"])
    log = tmp_path / "ex.log"
    runtime.ids.append("ex")
    runtime.detached("run", "--detach", "--bundle", str(b.path), "ex", log=log)
    res = runtime("exec", "ex", "/usr/bin/python3", "-S", "-c",
                  "import ctypes; l = ctypes.CDLL('libc.so.6', use_errno=True); "
                  "print(l.unshare(0x10000000), ctypes.get_errno())")
    assert res.stdout.split() == ["-1", str(EPERM)]
    res = runtime("exec", "ex", "grep", "^Seccomp:", "/proc/self/status")
    assert res.stdout.split() == ["Seccomp:", "2"]


def test_custom_profile_denies_mkdir(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("mk")
    sc = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
          "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    probe_bundle(b, sc, args=["sh", "-c", "/bin/mkdir /tmp/x; echo rc=$?"])
    runtime.ids.append("mk")
    res = runtime("run", "--bundle", str(b.path), "mk", check=False)
    assert "mkdir: can't create directory '/tmp/x': Operation not permitted" in res.stderr
    assert "rc=1" in res.stdout


def test_bad_action_fails_create(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("bad")
    probe_bundle(b, {"defaultAction": "SCMP_ACT_EXPLODE", "syscalls": []}, args=["true"])
    runtime.ids.append("bad")
    res = runtime("create", "--bundle", str(b.path), "bad", check=False)
    assert res.returncode == 1
    assert "SCMP_ACT_EXPLODE is not a valid action for seccomp" in res.stderr


@pytest.mark.parametrize("variant", ["docker-default", "sysadmin", "nnp", "mkdir-denied"])
def test_same_answers_as_runc(make_bundle: Any, runtime: Any, runc: Any, variant: str) -> None:
    from tests.privileged.runtime.conftest import DOCKER_CAPS

    over: dict[str, Any] = {}
    sc = docker_seccomp()
    if variant == "sysadmin":
        caps = [*DOCKER_CAPS, "CAP_SYS_ADMIN"]
        sc = docker_seccomp(caps)
        over["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps}
    elif variant == "nnp":
        over.update(noNewPrivileges=True, user={"uid": 1000, "gid": 1000})
    elif variant == "mkdir-denied":
        sc = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 5, "op": "SCMP_CMP_LT"}]},
        ]}
    b = make_bundle("cmp")
    probe_bundle(b, sc, **over)
    cfg = json.loads((b.path / "config.json").read_text())
    ours = _run(runtime, b, "cmp")
    theirs = _run(runc, b, "cmp")
    assert json.loads((b.path / "config.json").read_text()) == cfg
    assert ours == theirs


@pytest.mark.parametrize(("action", "want"), [("SCMP_ACT_KILL_PROCESS", "rc=159"), ("SCMP_ACT_KILL", "rc=159"),
                                              ("SCMP_ACT_TRAP", "rc=159"), ("SCMP_ACT_LOG", "rc=0")])
def test_kill_trap_and_log_actions(make_bundle: Any, runtime: Any, runc: Any, action: str, want: str) -> None:
    b = make_bundle("act")
    sc = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]}
    probe_bundle(b, sc, args=["sh", "-c", "rmdir /tmp/x 2>/dev/null; /bin/mkdir /tmp/x 2>/dev/null; echo rc=$?"])
    results = []
    for rt in (runtime, runc):
        rt.ids.append("act")
        res = rt("run", "--bundle", str(b.path), "act", check=False)
        rt("delete", "--force", "act", check=False)
        results.append(res.stdout.strip())
    assert results == [want, want]  # 159 = 128 + SIGSYS
