"""Our own `berth` CLI against berthd: docker's syntax (pflag rules), output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from tests.daemon_harness import REPO, Daemon, ok
from tests.e2e.ptyrun import PtyProcess

pytestmark = pytest.mark.e2e


def test_run_output_exit_codes_and_rm(berthd: Daemon) -> None:
    assert ok(berthd.berth("run", "--rm", "busybox", "echo", "hello from berth")) == "hello from berth\n"
    assert berthd.berth("run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3
    assert berthd.berth("run", "--rm", "busybox", "/nonexistent").returncode == 127
    res = berthd.berth("run", "--rm", "no-such-image:9", "true")
    assert res.returncode == 125
    assert b"Error response from daemon" in res.stderr


def test_pflag_rules(berthd: Daemon) -> None:
    # --rm=false keeps the container; everything after the image belongs to the command, `--` included
    out = ok(berthd.berth("run", "--rm=false", "--name=pflag-test", "-e", "A=1", "--env=B=2", "busybox",
                          "sh", "-c", 'echo "$A$B" "$@"', "--", "-x", "--rm"))
    assert out == "12 -x --rm\n"
    assert ok(berthd.berth("ps", "-a", "-q", "--filter", "name=pflag-test")).strip()
    ok(berthd.berth("rm", "pflag-test"))


def test_stdin_and_detached(berthd: Daemon) -> None:
    res = berthd.berth("run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z", input=b"shout\n")
    assert res.stdout == b"SHOUT\n"
    cid = ok(berthd.berth("run", "-d", "--name", "bg-one", "busybox", "sh", "-c",
                          "echo started; sleep 1000")).strip()
    try:
        assert len(cid) == 64
        time.sleep(0.3)
        assert ok(berthd.berth("logs", "bg-one")) == "started\n"
        assert ok(berthd.berth("exec", "bg-one", "echo", "inside")) == "inside\n"
        assert ok(berthd.berth("ps", "--format", "{{.ID}}\t{{.Names}}", "--filter", "name=bg-one")) == \
            f"{cid[:12]}\tbg-one\n"
        table = ok(berthd.berth("ps", "--filter", "name=bg-one")).splitlines()
        assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
        assert json.loads(ok(berthd.berth("ps", "--filter", "name=bg-one", "--format", "{{json .}}")))["ID"] \
            == cid[:12]
        assert ok(berthd.berth("inspect", "-f", "{{.State.Status}}", "bg-one")).strip() == "running"
        assert ok(berthd.berth("stop", "-t", "1", "bg-one")).strip() == "bg-one"
        assert ok(berthd.berth("wait", "bg-one")).strip() == "137"
    finally:
        berthd.berth("rm", "-f", "bg-one")


def test_logs_since_and_until_read_times_as_docker_does(berthd: Daemon) -> None:
    ok(berthd.berth("run", "--name", "since-logs", "busybox", "echo", "logged"))
    try:
        yesterday = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 86400))  # local, no zone
        assert ok(berthd.berth("logs", "--since", yesterday, "since-logs")) == "logged\n"
        assert ok(berthd.berth("logs", "--until", yesterday, "since-logs")) == ""
        assert ok(berthd.berth("logs", "--since", "1h", "since-logs")) == "logged\n"
        res = berthd.berth("logs", "--since", "yesterday", "since-logs")
        assert res.returncode == 1
        assert res.stderr.decode() == \
            'invalid value for "since": failed to parse value as time or duration: "yesterday"\n'
        res = berthd.berth("events", "--until", "2026-13-01")
        assert res.returncode == 1
        assert res.stderr.decode() == 'parsing time "2026-13-01" as "2006-01-02": month must be in 1..12\n'
    finally:
        berthd.berth("rm", "-f", "since-logs")


def test_images_import_tag_rmi(berthd: Daemon, busybox_tar: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".tar") as f:
        f.write(busybox_tar)
        f.flush()
        image_id = ok(berthd.berth("import", "-c", "ENV FOO=bar", f.name, "cli-imported:1")).strip()
    assert image_id.startswith("sha256:")
    assert ok(berthd.berth("run", "--rm", "cli-imported:1", "sh", "-c", "echo $FOO")) == "bar\n"
    ok(berthd.berth("tag", "cli-imported:1", "cli-imported:2"))
    listing = ok(berthd.berth("images", "--format", "{{.Repository}}:{{.Tag}}"))
    assert "cli-imported:1" in listing
    assert "cli-imported:2" in listing
    assert "Untagged: cli-imported:2" in ok(berthd.berth("rmi", "cli-imported:2"))
    assert "Deleted: " in ok(berthd.berth("rmi", "-f", "cli-imported:1"))
    assert berthd.berth("image", "inspect", "cli-imported:1").returncode == 1


def test_interactive_tty(berthd: Daemon) -> None:
    env = berthd.env()
    cmd = [sys.executable, "-m", "berth.cli.main", "run", "-it", "--rm", "busybox", "sh"]
    p = PtyProcess(cmd, env, rows=24, cols=90)
    try:
        p.read_until(b"# ")
        p.write(b"stty size\r")
        p.read_until(b"24 90")
        p.write(b"exit 4\r")
        assert p.wait() == 4
    finally:
        p.close()


def test_host_flag_and_env(berthd: Daemon) -> None:
    env = {k: v for k, v in berthd.env().items() if k not in ("BERTH_HOST", "DOCKER_HOST")}
    res = subprocess.run([sys.executable, "-m", "berth.cli.main", "-H", berthd.host, "version", "--format",
                          "{{.Server.APIVersion}}"], env=env, capture_output=True, cwd=REPO)
    assert res.stdout.decode().strip() == "1.44"
    res = subprocess.run([sys.executable, "-m", "berth.cli.main", "ps"], capture_output=True, cwd=REPO,
                         env=dict(env, BERTH_HOST="unix:///nonexistent/berth.sock"))
    assert res.returncode != 0
    assert b"Cannot connect" in res.stderr or b"berth daemon" in res.stderr
    assert os.path.exists(berthd.sock)


def test_cp_and_stats(berthd: Daemon, tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    (base / "tree" / "sub").mkdir(parents=True)
    (base / "tree" / "sub" / "a").write_text("a")
    (base / "note.txt").write_text("note\n")
    ok(berthd.berth("run", "-d", "--name", "cp-berth", "-m", "32m", "busybox", "sleep", "1000"))
    try:
        ok(berthd.berth("cp", str(base / "tree"), "cp-berth:/tmp/"))
        ok(berthd.berth("cp", str(base / "note.txt"), "cp-berth:/tmp/renamed.txt"))
        assert ok(berthd.berth("exec", "cp-berth", "cat", "/tmp/tree/sub/a", "/tmp/renamed.txt")) == "anote\n"
        ok(berthd.berth("cp", "cp-berth:/tmp/tree", str(base / "back")))
        assert (base / "back" / "sub" / "a").read_text() == "a"
        ok(berthd.berth("cp", "cp-berth:/etc/hostname", str(base / "hostname")))
        assert (base / "hostname").read_text().strip() == ok(berthd.berth("exec", "cp-berth", "hostname")).strip()
        res = berthd.berth("cp", "cp-berth:/nonexistent", str(base / "x"))
        assert res.returncode == 1
        assert b"Could not find the file /nonexistent" in res.stderr
        table = ok(berthd.berth("stats", "--no-stream", "cp-berth")).splitlines()
        assert table[0].split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%",
                                    "NET", "I/O", "BLOCK", "I/O", "PIDS"]
        assert "/ 32MiB" in table[1]
        assert ok(berthd.berth("stats", "--no-stream", "--format", "{{.Name}}:{{.PIDs}}", "cp-berth")) == \
            "cp-berth:1\n"
    finally:
        berthd.berth("rm", "-f", "cp-berth")
