"""The real docker CLI against berthd: ps filters, logs, exec, inspect, top, rename, prune, export/import, images."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time

import pytest

from tests.daemon_harness import Daemon, ok

pytestmark = pytest.mark.e2e


def test_ps_filters_and_formats(berthd: Daemon) -> None:
    a = ok(berthd.docker("run", "-d", "--name", "ps-a", "-l", "tier=web", "busybox", "sleep", "1000")).strip()
    assert berthd.docker("run", "--name", "ps-b", "-l", "tier=db", "busybox", "sh", "-c", "exit 2").returncode == 2
    try:
        names = ok(berthd.docker("ps", "--format", "{{.Names}}")).split()
        assert "ps-a" in names
        assert "ps-b" not in names
        assert "ps-b" in ok(berthd.docker("ps", "-a", "--format", "{{.Names}}")).split()
        assert ok(berthd.docker("ps", "-q", "--filter", "label=tier=web")).split() == [a[:12]]
        assert ok(berthd.docker("ps", "-a", "-q", "--no-trunc", "--filter", "name=ps-a")).split() == [a]
        assert ok(berthd.docker("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}")).split() == ["ps-b"]
        assert ok(berthd.docker("ps", "-a", "--filter", "exited=2", "--format", "{{.Names}}")).split() == ["ps-b"]
        assert "ps-a" in ok(berthd.docker("ps", "--filter", "ancestor=busybox", "--format", "{{.Names}}"))
        assert ok(berthd.docker("ps", "-q", "--filter", f"id={a[:6]}")).split() == [a[:12]]
        assert ok(berthd.docker("ps", "-a", "-n", "1", "--format", "{{.Names}}")).split() == ["ps-b"]
        table = ok(berthd.docker("ps", "--filter", "name=ps-a"))
        assert table.splitlines()[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                                                 "PORTS", "NAMES"]
        assert '"sleep 1000"' in table
        assert "Up " in table
        doc = json.loads(ok(berthd.docker("ps", "--filter", "name=ps-a", "--format", "{{json .}}")))
        assert doc["Names"] == "ps-a"
    finally:
        berthd.docker("rm", "-f", "ps-a", "ps-b")


def test_logs_options(berthd: Daemon) -> None:
    ok(berthd.docker("run", "--name", "logger", "busybox", "sh", "-c",
                     "echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2"))
    try:
        res = berthd.docker("logs", "logger")
        assert res.stdout == b"out1\nout2\n"
        assert res.stderr == b"err1\n"
        assert ok(berthd.docker("logs", "--tail", "1", "logger")) == "out2\n"
        for everything in ("all", "-1", "many"):  # as dockerd: a tail that is not a count shows all
            assert ok(berthd.docker("logs", "--tail", everything, "logger")) == "out1\nout2\n"
        stamped = ok(berthd.docker("logs", "-t", "logger")).splitlines()
        assert stamped[0].endswith(" out1")
        assert stamped[0][:4].isdigit()
        assert "T" in stamped[0].split()[0]
        assert ok(berthd.docker("logs", "--since", "2000-01-01T00:00:00Z", "logger")) == "out1\nout2\n"
        assert ok(berthd.docker("logs", "--until", "2000-01-01T00:00:00Z", "logger")) == ""
    finally:
        berthd.docker("rm", "-f", "logger")


def test_log_opts_rotate_the_json_file_as_dockerd(berthd: Daemon) -> None:
    ok(berthd.docker("run", "--name", "rotating", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox",
                     "sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done"))
    try:
        log_path = ok(berthd.docker("inspect", "-f", "{{.LogPath}}", "rotating")).strip()
        folder = os.path.dirname(log_path)
        name = os.path.basename(log_path)
        assert sorted(n for n in os.listdir(folder) if n.startswith(name)) == [name, f"{name}.1", f"{name}.2"]
        assert all(os.path.getsize(f"{log_path}.{i}") < 1100 for i in (1, 2))
        kept = ok(berthd.docker("logs", "rotating")).splitlines()
        assert kept[-1] == "line 299"
        assert kept == [f"line {i}" for i in range(300 - len(kept), 300)]  # the oldest lines went, in order
        assert len(kept) < 300
        tail = ok(berthd.docker("logs", "--tail", str(len(kept) - 2), "rotating")).splitlines()
        assert tail == kept[2:]  # a tail reaches back into the rotated files
        assert json.loads(ok(berthd.docker("inspect", "-f", "{{json .HostConfig.LogConfig}}", "rotating"))) == {
            "Type": "json-file", "Config": {"max-size": "1k", "max-file": "3"}}
    finally:
        berthd.docker("rm", "-f", "rotating")


def test_log_driver_none_and_refused_log_options(berthd: Daemon) -> None:
    assert ok(berthd.docker("run", "--name", "unlogged", "--log-driver", "none", "busybox", "echo", "shown")) == \
        "shown\n"  # the output still reaches an attached client
    try:
        res = berthd.docker("logs", "unlogged")
        assert res.returncode == 1
        assert res.stderr.decode().strip() == \
            "Error response from daemon: configured logging driver does not support reading"
        assert ok(berthd.docker("inspect", "-f", "{{.LogPath}}", "unlogged")).strip() == ""
    finally:
        berthd.docker("rm", "-f", "unlogged")
    for flags, text in ((["--log-driver", "syslog"], "logger: no log driver named 'syslog' is registered"),
                        (["--log-opt", "foo=1"], "unknown log opt 'foo' for json-file log driver"),
                        (["--log-opt", "max-size=abc"], "invalid size: 'abc'"),
                        (["--log-opt", "max-file=0"], "max-file cannot be less than 1")):
        res = berthd.docker("create", "--name", "refused", *flags, "busybox", "true")
        assert res.returncode == 1
        assert res.stderr.decode().splitlines()[0] == f"Error response from daemon: {text}"
        assert berthd.docker("inspect", "refused").returncode == 1


def test_logs_follow_ends_when_container_exits(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "follower", "busybox", "sh", "-c",
                     "for i in 1 2 3; do echo tick$i; sleep 0.2; done"))
    try:
        out = ok(berthd.docker("logs", "-f", "follower", timeout=30))
        assert out == "tick1\ntick2\ntick3\n"
    finally:
        berthd.docker("rm", "-f", "follower")


def test_exec_variants(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "exectarget", "-e", "BASE=1", "busybox", "sleep", "1000"))
    try:
        assert ok(berthd.docker("exec", "exectarget", "hostname")).strip() == ok(
            berthd.docker("inspect", "-f", "{{.Config.Hostname}}", "exectarget")).strip()
        out = ok(berthd.docker("exec", "-e", "X=2", "-w", "/tmp", "-u", "1000", "exectarget", "sh", "-c",
                               'echo "$BASE $X $(pwd) $(id -u)"'))
        assert out.strip() == "1 2 /tmp 1000"
        res = berthd.docker("exec", "-i", "exectarget", "sh", "-c", "cat; exit 5", input=b"piped\n")
        assert res.stdout == b"piped\n"
        assert res.returncode == 5
        ok(berthd.docker("exec", "-d", "exectarget", "sh", "-c", "echo detached > /tmp/d"))
        time.sleep(0.5)
        assert ok(berthd.docker("exec", "exectarget", "cat", "/tmp/d")) == "detached\n"
        pids = ok(berthd.docker("exec", "exectarget", "ps", "-o", "pid")).split()[1:]
        assert "1" in pids
        res = berthd.docker("exec", "exectarget", "/nope")
        assert res.returncode in (126, 127)
    finally:
        berthd.docker("rm", "-f", "exectarget")


def test_exec_environment_is_the_exec_users(berthd: Daemon) -> None:
    """As dockerd with runc: HOME is the exec user's own (from the image's /etc/passwd) unless the container's
    Env sets it, and TERM=xterm comes with the exec's tty, not the container's."""
    ok(berthd.docker("run", "-dt", "--name", "exec-env", "busybox", "sleep", "1000"))
    ok(berthd.docker("run", "-d", "--name", "exec-env-home", "-e", "HOME=/data", "busybox", "sleep", "1000"))
    try:
        show = ["sh", "-c", 'echo "${HOME}|${TERM-none}"']
        assert ok(berthd.docker("exec", "exec-env", *show)) == "/root|none\n"
        assert ok(berthd.docker("exec", "-u", "nobody", "exec-env", *show)) == "/nonexistent|none\n"
        assert ok(berthd.docker("exec", "-u", "4242", "exec-env", *show)) == "/|none\n"
        assert ok(berthd.docker("exec", "-u", "nobody", "-e", "HOME=/x", "exec-env", *show)) == "/x|none\n"
        assert ok(berthd.docker("exec", "-u", "nobody", "exec-env-home", *show)) == "/data|none\n"
        assert ok(berthd.docker("exec", "-t", "exec-env-home", *show)) == "/data|xterm\r\n"
    finally:
        berthd.docker("rm", "-f", "exec-env", "exec-env-home")


def test_inspect_top_rename(berthd: Daemon) -> None:
    cid = ok(berthd.docker("run", "-d", "--name", "old-name", "busybox", "sleep", "1000")).strip()
    try:
        doc = json.loads(ok(berthd.docker("inspect", "old-name")))[0]
        assert doc["Id"] == cid
        assert doc["Name"] == "/old-name"
        assert doc["State"]["Status"] == "running"
        assert doc["Config"]["Cmd"] == ["sleep", "1000"]
        assert doc["GraphDriver"]["Name"] == "overlay2"
        assert ok(berthd.docker("inspect", "-f", "{{.State.Pid}}", cid)).strip() == str(doc["State"]["Pid"])
        top = ok(berthd.docker("top", "old-name"))
        assert "sleep 1000" in top
        assert top.splitlines()[0].split()[:3] == ["UID", "PID", "PPID"]
        ok(berthd.docker("rename", "old-name", "new-name"))
        assert json.loads(ok(berthd.docker("inspect", cid)))[0]["Name"] == "/new-name"
        assert berthd.docker("inspect", "old-name").returncode == 1
        other = ok(berthd.docker("create", "--name", "taken-name", "busybox", "true")).strip()
        res = berthd.docker("rename", "new-name", "taken-name")  # compose looks for dockerd's words
        assert res.returncode == 1
        assert res.stderr.decode().splitlines()[0] == (
            'Error response from daemon: Error when allocating new name: Conflict. The container name '
            f'"/taken-name" is already in use by container "{other}". You have to remove (or rename) that '
            "container to be able to reuse that name.")
        assert json.loads(ok(berthd.docker("inspect", cid)))[0]["Name"] == "/new-name"
    finally:
        berthd.docker("rm", "-f", cid, "taken-name")


def test_container_prune(berthd: Daemon) -> None:
    ok(berthd.docker("create", "--name", "prunable", "busybox", "true"))
    running = ok(berthd.docker("run", "-d", "busybox", "sleep", "1000")).strip()
    try:
        out = ok(berthd.docker("container", "prune", "-f"))
        assert "Deleted Containers:" in out
        assert berthd.docker("inspect", "prunable").returncode == 1
        assert berthd.docker("inspect", running).returncode == 0
    finally:
        berthd.docker("rm", "-f", running, "prunable")


def test_prune_until_reads_times_as_docker_does(berthd: Daemon) -> None:
    """The daemon reads `until` itself: local times without a zone are docker's too, and a bad one is a 400."""
    ok(berthd.docker("create", "--name", "until-kept", "busybox", "true"))
    try:
        an_hour_ago = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 3600))
        ok(berthd.docker("container", "prune", "-f", "--filter", f"until={an_hour_ago}"))
        assert berthd.docker("inspect", "until-kept").returncode == 0
        in_a_minute = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() + 60))
        ok(berthd.docker("container", "prune", "-f", "--filter", f"until={in_a_minute}"))
        assert berthd.docker("inspect", "until-kept").returncode == 1
        for cmd in (("container", "prune", "-f"), ("image", "prune", "-f"), ("images",)):
            res = berthd.docker(*cmd, "--filter", "until=yesterday")
            assert res.returncode == 1
            assert res.stderr.decode().strip() == \
                'Error response from daemon: failed to parse value as time or duration: "yesterday"'
    finally:
        berthd.docker("rm", "-f", "until-kept")


def test_diff_and_commit_leave_out_the_mount_placeholders(berthd: Daemon) -> None:
    """/etc/hosts, /etc/hostname and /etc/resolv.conf are the runtime's mount targets, which dockerd keeps in an
    init layer: a fresh container has no changes, and a commit carries only what the container did."""
    ok(berthd.docker("run", "-d", "--name", "differ", "busybox", "sleep", "1000"))
    try:
        assert ok(berthd.docker("diff", "differ")) == ""
        ok(berthd.docker("exec", "differ", "sh", "-c", "echo x > /etc/motd; mkdir /data; rm /bin/true"))
        assert ok(berthd.docker("diff", "differ")).splitlines() == ["C /bin", "D /bin/true", "A /data", "C /etc",
                                                                     "A /etc/motd"]
        ok(berthd.docker("commit", "differ", "committed:diff"))
        saved = berthd.docker("save", "committed:diff").stdout
        with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
            top = outer.extractfile(manifest[0]["Layers"][-1])
            assert top is not None
            with tarfile.open(fileobj=io.BytesIO(top.read())) as layer:
                names = sorted(n.rstrip("/") for n in layer.getnames())
        assert names == ["bin", "bin/.wh.true", "data", "etc", "etc/motd"]
    finally:
        berthd.docker("rm", "-f", "differ")
        berthd.docker("rmi", "committed:diff")


def test_export_then_import_with_change(berthd: Daemon) -> None:
    ok(berthd.docker("run", "--name", "exp", "busybox", "sh", "-c", "echo exported > /marker"))
    try:
        tar_bytes = berthd.docker("export", "exp").stdout
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tf:
            names = tf.getnames()
        assert "./marker" in names or "marker" in names
        assert any(n.endswith("bin/busybox") for n in names)
        ok(berthd.docker("import", "-c", "ENV IMPORTED=yes", "-c", 'CMD ["cat", "/marker"]', "-", "reimported:v1",
                         input=tar_bytes))
        assert ok(berthd.docker("run", "--rm", "reimported:v1")) == "exported\n"
        assert ok(berthd.docker("run", "--rm", "reimported:v1", "sh", "-c", "echo $IMPORTED")) == "yes\n"
    finally:
        berthd.docker("rm", "-f", "exp")
        berthd.docker("rmi", "-f", "reimported:v1")


def test_images_tag_history_rmi_prune(berthd: Daemon) -> None:
    full = ok(berthd.docker("images", "-q", "--no-trunc", "busybox")).strip()
    assert full.startswith("sha256:")
    assert ok(berthd.docker("images", "-q", "busybox")).strip() == full[7:19]
    ok(berthd.docker("tag", "busybox", "mybox:1"))
    table = ok(berthd.docker("images"))
    assert table.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert "mybox" in table
    assert "busybox" in ok(berthd.docker("images", "-a"))
    hist = ok(berthd.docker("history", "mybox:1"))
    assert "IMAGE" in hist.splitlines()[0]
    doc = json.loads(ok(berthd.docker("image", "inspect", "mybox:1")))[0]
    assert doc["Id"] == full
    assert "mybox:1" in doc["RepoTags"]
    out = ok(berthd.docker("rmi", "mybox:1"))
    assert "Untagged: mybox:1" in out
    ok(berthd.docker("run", "--name", "user-of-img", "busybox", "true"))
    try:
        res = berthd.docker("rmi", "busybox")
        assert res.returncode == 1
        assert b"conflict" in res.stderr
    finally:
        berthd.docker("rm", "user-of-img")
    assert "Total reclaimed space" in ok(berthd.docker("image", "prune", "-f"))
    assert berthd.docker("image", "inspect", "busybox").returncode == 0
