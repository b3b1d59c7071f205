"""Seccomp through the real docker CLI: the default profile, unconfined, a profile file, bad profiles,
no-new-privileges, and what inspect shows."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.daemon_harness import Daemon, api_json, running_daemon

pytestmark = pytest.mark.e2e

DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
}


def run(d: Daemon, *args: str) -> tuple[int, str, str]:
    res = d.docker("run", "--rm", *args)
    return res.returncode, res.stdout.decode(), res.stderr.decode()


def test_default_profile_blocks_unshare_and_shows_filter_mode(berthd: Daemon) -> None:
    code, out, err = run(berthd, "busybox", "sh", "-c",
                         "grep ^Seccomp: /proc/self/status; unshare -U true; echo rc=$?")
    assert code == 0, err
    assert "Seccomp:\t2" in out
    assert "rc=1" in out
    assert "Operation not permitted" in err


def test_unconfined_has_no_filter(berthd: Daemon) -> None:
    code, out, err = run(berthd, "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c",
                         "grep ^Seccomp: /proc/self/status; unshare -U true; echo rc=$?")
    assert code == 0, err
    assert "Seccomp:\t0" in out
    assert "rc=0" in out


def test_privileged_has_no_filter(berthd: Daemon) -> None:
    code, out, err = run(berthd, "--privileged", "busybox", "grep", "^Seccomp:", "/proc/self/status")
    assert (code, out) == (0, "Seccomp:\t0\n"), err


def test_profile_file_denies_mkdir(berthd: Daemon, tmp_path: Path) -> None:
    prof = tmp_path / "deny-mkdir.json"
    prof.write_text(json.dumps(DENY_MKDIR, indent=2))
    code, out, err = run(berthd, "--security-opt", f"seccomp={prof}", "busybox", "mkdir", "/tmp/made")
    assert code == 1
    assert "mkdir: can't create directory '/tmp/made': Operation not permitted" in err
    code, out, err = run(berthd, "--security-opt", f"seccomp={prof}", "busybox", "sh", "-c", "touch /tmp/f && echo ok")
    assert (code, out) == (0, "ok\n"), err


def test_inspect_shows_security_opt_as_sent(berthd: Daemon, tmp_path: Path) -> None:
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps(DENY_MKDIR, indent=2))
    res = berthd.docker("create", "--security-opt", f"seccomp={prof}", "--security-opt", "no-new-privileges",
                        "busybox", "true")
    assert res.returncode == 0, res.stderr
    cid = res.stdout.decode().strip()
    try:
        out = json.loads(berthd.docker("inspect", cid).stdout)[0]["HostConfig"]["SecurityOpt"]
        assert out == ["seccomp=" + json.dumps(DENY_MKDIR, separators=(",", ":")), "no-new-privileges"]
    finally:
        berthd.docker("rm", "-f", cid)


def test_malformed_profile_file_is_refused_by_the_cli(berthd: Daemon, tmp_path: Path) -> None:
    prof = tmp_path / "broken.json"
    prof.write_text('{"defaultAction": "SCMP_ACT_ALLOW",')
    code, _, err = run(berthd, "--security-opt", f"seccomp={prof}", "busybox", "true")
    assert code != 0
    assert f"compacting json for seccomp profile ({prof}) failed" in err


def test_bad_profile_is_a_400_at_create_and_nothing_is_created(berthd: Daemon, tmp_path: Path) -> None:
    before = berthd.docker("ps", "-aq").stdout
    prof = tmp_path / "bad-action.json"
    prof.write_text(json.dumps({"defaultAction": "SCMP_ACT_EXPLODE", "syscalls": []}))
    code, _, err = run(berthd, "--security-opt", f"seccomp={prof}", "busybox", "true")
    assert code == 125
    assert "Error response from daemon: string SCMP_ACT_EXPLODE is not a valid action for seccomp" in err
    status, body = api_json(berthd.sock, "POST", "/v1.44/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"SecurityOpt": ['seccomp={"defaultAction": 5}']}})
    assert status == 400
    assert body == {"message": "Decoding seccomp profile failed: json: cannot unmarshal number into Go struct "
                               "field Seccomp.defaultAction of type specs.LinuxSeccompAction"}
    status, body = api_json(berthd.sock, "POST", "/v1.44/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"SecurityOpt": ["seccomp={not json"]}})
    assert status == 400
    assert body == {"message": "Decoding seccomp profile failed: invalid character 'n' looking for beginning of "
                               "object key string"}
    assert berthd.docker("ps", "-aq").stdout == before


def test_no_new_privileges(berthd: Daemon) -> None:
    for opt in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
        code, out, err = run(berthd, "--security-opt", opt, "busybox", "grep", "^NoNewPrivs:", "/proc/self/status")
        assert (code, out) == (0, "NoNewPrivs:\t1\n"), (opt, err)
    code, out, _ = run(berthd, "busybox", "grep", "^NoNewPrivs:", "/proc/self/status")
    assert out == "NoNewPrivs:\t0\n"


def test_exec_gets_the_filter(berthd: Daemon) -> None:
    res = berthd.docker("run", "-d", "busybox", "sleep", "60")
    assert res.returncode == 0, res.stderr
    cid = res.stdout.decode().strip()
    try:
        ex = berthd.docker("exec", cid, "sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -U true; echo rc=$?")
        assert "Seccomp:\t2" in ex.stdout.decode()
        assert "rc=1" in ex.stdout.decode()
    finally:
        berthd.docker("rm", "-f", cid)


def test_default_profile_as_a_file_and_builtin_behave_alike(berthd: Daemon, tmp_path: Path) -> None:
    from berth.seccomp.default import default_profile

    prof = tmp_path / "default.json"
    prof.write_text(json.dumps(default_profile(), indent=1))
    script = "grep ^Seccomp: /proc/self/status; unshare -U true 2>/dev/null; echo rc=$?; mkdir /tmp/d && echo made"
    outs = []
    for opt in (f"seccomp={prof}", "seccomp=builtin"):
        code, out, err = run(berthd, "--security-opt", opt, "busybox", "sh", "-c", script)
        assert code == 0, err
        outs.append(out)
    assert outs[0] == outs[1] == "Seccomp:\t2\nrc=1\nmade\n"


def test_the_daemon_compiles_the_default_profile_before_the_first_start(busybox_tar: bytes) -> None:
    with running_daemon() as d:
        cache = os.path.join(d.exec_root, "berth-seccomp-cache")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (os.path.isdir(cache) and os.listdir(cache)):
            time.sleep(0.05)
        warmed = set(os.listdir(cache))
        assert len(warmed) == 1
        d.import_busybox(busybox_tar)
        assert d.docker("run", "--rm", "busybox", "true").returncode == 0
        assert set(os.listdir(cache)) == warmed  # the container found its filter compiled already
