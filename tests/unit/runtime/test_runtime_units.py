"""Unit tests of the runtime's pure parts: CLI parsing, mount options, paths, cgroup discovery, caps, exec."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from berth.kernel import abi
from berth.kernel.features import parse_mountinfo_cgroups
from berth.runtime.caps import CapConfig, cap_mask
from berth.runtime.cgroups import resolve_path
from berth.runtime.cli import parse
from berth.runtime.errors import RuntimeFailure
from berth.runtime.execcmd import build_process
from berth.runtime.mountopts import parse_options
from berth.runtime.paths import secure_join
from berth.runtime.state import Container, process_start_time, rfc3339_now
from berth.runtime.sync import pair

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 80 0:32 /docker /mnt/again rw,relatime - cgroup cgroup rw,memory
"""


def test_runc_style_command_lines() -> None:
    g, cmd, opts, args = parse(["--root", "/r", "--log=/l", "create", "-b", "/b", "--pid-file", "/p", "id1"])
    assert (g, cmd, opts, args) == (
        {"root": "/r", "log": "/l"},
        "create",
        {"bundle": "/b", "pid-file": "/p"},
        ["id1"],
    )
    _, cmd, opts, args = parse(["exec", "-t", "--env", "A=1", "-e", "B=2", "c", "sh", "-c", "ls -l"])
    assert opts == {"tty": True, "env": ["A=1", "B=2"]}
    assert args == ["c", "sh", "-c", "ls -l"]
    _, cmd, opts, args = parse(["kill", "--all", "c", "KILL"])
    assert (cmd, opts, args) == ("kill", {"all": True}, ["c", "KILL"])
    with pytest.raises(RuntimeFailure, match="not defined"):
        parse(["start", "--bogus", "c"])
    with pytest.raises(RuntimeFailure):
        parse(["frobnicate", "c"])


def test_mount_options_split_into_flags_propagation_and_data() -> None:
    opts = parse_options(["nosuid", "strictatime", "mode=755", "size=65536k", "rprivate"])
    assert opts.flags == abi.MS_NOSUID | abi.MS_STRICTATIME
    assert opts.propagation == (abi.MS_PRIVATE | abi.MS_REC,)
    assert opts.data == "mode=755,size=65536k"
    assert parse_options(["rbind", "ro", "rw"]).flags == abi.MS_BIND | abi.MS_REC


def test_secure_join_keeps_symlinks_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "escape").symlink_to("/../../../outside")
    (tmp_path / "rel").symlink_to("etc/../etc")
    assert secure_join(str(tmp_path), "/etc/escape/x") == f"{tmp_path}/outside/x"
    assert secure_join(str(tmp_path), "../../rel/hosts") == f"{tmp_path}/etc/hosts"
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(RuntimeFailure, match="too many symlinks"):
        secure_join(str(tmp_path), "/loop")


def test_cgroup_hierarchies_from_mountinfo() -> None:
    mounts = parse_mountinfo_cgroups(HYBRID)
    assert [(m.mountpoint, m.version, m.controllers) for m in mounts] == [
        ("/sys/fs/cgroup/cpu", 1, ("cpu",)),
        ("/sys/fs/cgroup/cpuacct", 1, ("cpuacct",)),
        ("/sys/fs/cgroup/memory", 1, ("memory",)),
        ("/sys/fs/cgroup/systemd", 1, ("name=systemd",)),
        ("/sys/fs/cgroup/unified", 2, ()),
    ]


def test_cgroups_path_resolution() -> None:
    assert resolve_path("/berth/abc", "abc") == "/berth/abc"
    assert resolve_path("berth/abc", "abc") == "/berth/abc"
    assert resolve_path(None, "abc") == "/abc"
    assert resolve_path("/a/../../b", "x") == "/b"


def test_capability_masks_match_dockers_default() -> None:
    docker = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
              "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
              "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]  # fmt: skip
    assert cap_mask(docker, 40) == 0xA80425FB
    assert cap_mask(["CAP_BPF", "CAP_NOT_A_CAP", "sys_admin"], 38) == 1 << 21
    cfg = CapConfig({"bounding": ["CAP_KILL"], "ambient": ["CAP_KILL"]}, 40)
    assert (cfg.bounding, cfg.effective, cfg.ambient) == (1 << 5, 0, 1 << 5)


def test_exec_process_from_the_container_and_the_cli() -> None:
    base = {"args": ["sleep", "1"], "env": ["PATH=/bin", "A=1"], "cwd": "/", "user": {"uid": 0, "gid": 0}}
    opts = {"env": ["A=2", "B=3"], "cwd": "/tmp", "user": "1000:50", "tty": True, "cap": ["CAP_NET_ADMIN"]}
    proc = build_process(base, opts, ["sh", "-c", "true"])
    assert proc["args"] == ["sh", "-c", "true"]
    assert proc["env"] == ["PATH=/bin", "A=2", "B=3"]
    assert (proc["cwd"], proc["user"], proc["terminal"]) == ("/tmp", {"uid": 1000, "gid": 50}, True)
    assert proc["capabilities"]["bounding"] == ["CAP_NET_ADMIN"]
    assert base["env"] == ["PATH=/bin", "A=1"]
    with pytest.raises(RuntimeFailure):
        build_process(base, {}, [])


def test_sync_messages_and_eof() -> None:
    parent, child = pair()
    child.send(pid=42)
    child.send(error="x" * 10000)
    child.close()
    assert parent.recv() == {"pid": 42}
    msg = parent.recv()
    assert msg is not None
    assert str(msg["error"]).startswith("xxx")
    assert parent.recv() is None
    parent.close()


def test_state_status_follows_the_process(tmp_path: Path) -> None:
    c = Container(str(tmp_path), "abc")
    os.makedirs(c.dir)
    st = process_start_time(os.getpid())
    assert st is not None
    c.data = {"pid": os.getpid(), "start_time": st[0]}
    os.mkfifo(c.fifo)
    assert c.status() == "created"
    os.unlink(c.fifo)
    assert c.status() == "running"
    c.data["start_time"] = st[0] + 1  # same pid, another process: stopped
    assert c.status() == "stopped"
    c.save()
    assert Container(str(tmp_path), "abc").load().data["pid"] == os.getpid()
    c.remove()
    assert not os.path.exists(c.dir)
    with pytest.raises(RuntimeFailure):
        Container(str(tmp_path), "../x")


def test_created_time_is_rfc3339_utc() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", rfc3339_now())


def test_c_json_codec_round_trips_like_json() -> None:
    import json

    from berth.runtime import jsonc

    doc = {"a": [1, 2.5, None, True, 'é"x'], "b": {"c": -3, "d": 1e100}, "e": "", "f": 2**70}
    text = jsonc.dumps(doc)
    assert json.loads(text) == doc
    assert jsonc.loads(text) == doc
    assert jsonc.loads(b" [1]\n") == [1]
    with pytest.raises(ValueError, match="Extra data"):
        jsonc.loads('{"a": 1} x')
    with pytest.raises(TypeError):
        jsonc.dumps({"x": object()})


def test_hooks_get_the_state_on_stdin_and_failures_count(tmp_path: Path) -> None:
    from berth.runtime.hooks import hook_state, run_hooks

    out = tmp_path / "state.json"
    spec = {
        "annotations": {"a": "b"},
        "hooks": {
            "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}"], "env": ["X=1"]}],
            "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}],
            "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 5"], "timeout": 1}],
        },
    }
    state = hook_state(spec, "id1", "/b", 42, "running")
    run_hooks(spec, ("poststart",), state)
    assert json.loads(out.read_text()) == {
        "ociVersion": "1.0.2", "id": "id1", "status": "running", "pid": 42, "bundle": "/b", "annotations": {"a": "b"},
    }  # fmt: skip
    with pytest.raises(RuntimeFailure, match="exit status 3"):
        run_hooks(spec, ("poststop",), state)
    run_hooks(spec, ("poststop",), state, strict=False)
    with pytest.raises(RuntimeFailure, match="timed out"):
        run_hooks(spec, ("createRuntime",), state)
