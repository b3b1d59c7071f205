"""berth-runtime on the real kernel: create/start/state/kill/delete, cgroups, exec, terminals."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.privileged.runtime.conftest import DOCKER_CAPS, cgroup_dirs

pytestmark = pytest.mark.privileged


def created(make_bundle: Any, runtime: Any, args: list[str], cid: str = "c1", **over: Any) -> Any:
    b = make_bundle(cid)
    b.cfg = b.write_config(args, **over)
    runtime.ids.append(cid)
    runtime.detached(
        "create", "--bundle", str(b.path), "--pid-file", str(b.path / "init.pid"), cid, log=b.path / "output"
    )
    return b


def wait_until(pred: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def procs(dirs: list[str]) -> set[int]:
    out: set[int] = set()
    for d in dirs:
        with open(os.path.join(d, "cgroup.procs")) as f:
            out.update(int(x) for x in f.read().split())
    return out


def serve_console(path: str) -> dict[str, Any]:
    """Listen on a console socket like a shim; a thread takes the pty master and reads it to the end."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got: dict[str, Any] = {"out": b"", "path": path}

    def serve() -> None:
        with srv:
            conn, _ = srv.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        conn.close()
        got["name"] = msg.decode()
        try:
            while chunk := os.read(fds[0], 4096):
                got["out"] += chunk
        except OSError:
            pass
        os.close(fds[0])

    got["thread"] = threading.Thread(target=serve, daemon=True)
    got["thread"].start()
    return got


READ_AS_A_CONTAINER = """
import sys
from berth.kernel.caps import last_cap
from berth.runtime.caps import CapConfig, set_caps
caps = sys.argv[2].split(",")
set_caps(CapConfig({"effective": caps, "permitted": caps, "inheritable": caps}, last_cap()))
try:
    with open(f"/proc/{sys.argv[1]}/environ", "rb") as f:
        f.read()
    print("read")
except PermissionError:
    print("denied")
"""


def read_as_a_container(pid: int) -> str:
    """What a process with a container's rights (root, Docker's capabilities: no CAP_SYS_PTRACE) gets when it
    reads /proc/PID/environ, as one in a pid namespace shared with PID could."""
    res = subprocess.run([sys.executable, "-c", READ_AS_A_CONTAINER, str(pid), ",".join(DOCKER_CAPS)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_an_init_waiting_for_its_start_cannot_be_read_or_traced(make_bundle: Any, runtime: Any) -> None:
    """Until its execve the init is not dumpable (runc does the same): a process with the container's own rights
    that shares its pid namespace (--pid container:X, --pid host) cannot read its memory, fds or environment,
    or ptrace it. Its program, once exec'd, is an ordinary process again."""
    b = created(make_bundle, runtime, ["sleep", "1000"])
    pid = int((b.path / "init.pid").read_text())
    assert read_as_a_container(pid) == "denied"
    runtime("start", "c1")
    assert wait_until(lambda: os.readlink(f"/proc/{pid}/exe").endswith("busybox"))
    assert read_as_a_container(pid) == "read"


def test_state_transitions(make_bundle: Any, runtime: Any) -> None:
    b = created(make_bundle, runtime, ["sleep", "1000"])
    st = runtime.state("c1")
    pid = int((b.path / "init.pid").read_text())
    assert (st["status"], st["pid"], st["bundle"], st["id"]) == ("created", pid, str(b.path), "c1")
    assert json.loads(runtime("list", "--format", "json").stdout)[0]["status"] == "created"
    runtime("start", "c1")
    assert runtime.state("c1")["status"] == "running"
    assert runtime("start", "c1", check=False).returncode == 1
    runtime("kill", "c1", "KILL")
    assert wait_until(lambda: runtime.state("c1")["status"] == "stopped")
    runtime("delete", "c1")
    res = runtime("state", "c1", check=False)
    assert res.returncode == 1
    assert "does not exist" in res.stderr


def test_cgroup_created_and_removed_after_delete(make_bundle: Any, runtime: Any) -> None:
    b = created(make_bundle, runtime, ["sleep", "1000"])
    dirs = cgroup_dirs(b.cfg["linux"]["cgroupsPath"])
    assert len(dirs) >= 2
    assert all(os.path.isdir(d) for d in dirs)
    pid = int((b.path / "init.pid").read_text())
    assert procs(dirs) == {pid}
    runtime("start", "c1")
    res = runtime("delete", "c1", check=False)
    assert res.returncode == 1
    assert "not stopped" in res.stderr
    runtime("delete", "--force", "c1")
    assert not any(os.path.exists(d) for d in dirs)
    assert runtime("state", "c1", check=False).returncode == 1


def test_kill_all_reaches_background_processes(make_bundle: Any, runtime: Any) -> None:
    b = created(make_bundle, runtime, ["sh", "-c", "sleep 1000 & exec sleep 1001"])
    runtime("start", "c1")
    dirs = cgroup_dirs(b.cfg["linux"]["cgroupsPath"])
    assert wait_until(lambda: len(procs(dirs)) == 2)
    runtime("kill", "--all", "c1", "SIGKILL")
    assert wait_until(lambda: not procs(dirs))
    assert runtime.state("c1")["status"] == "stopped"
    runtime("delete", "c1")


def test_exec_joins_pid_namespace_and_hostname(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    created(make_bundle, runtime, ["sleep", "1000"], hostname="exec-host")
    runtime("start", "c1")
    res = runtime("exec", "c1", "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$")
    host, cmdline, pid = res.stdout.splitlines()
    assert (host, cmdline.strip()) == ("exec-host", "sleep 1000")
    assert int(pid) > 1
    assert runtime("exec", "c1", "sh", "-c", "exit 7", check=False).returncode == 7
    res = runtime(
        "exec",
        "--env",
        "A=1",
        "--cwd",
        "/tmp",
        "--user",
        "1000:1000",
        "c1",
        "sh",
        "-c",
        "echo $A $(pwd) $(id -u)",
    )
    assert res.stdout.split() == ["1", "/tmp", "1000"]
    proc = {
        "args": ["sh", "-c", "echo from-process-json > /tmp/out; sleep 1000"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "user": {"uid": 0, "gid": 0},
    }
    (tmp_path / "p.json").write_text(json.dumps(proc))
    pidfile = tmp_path / "exec.pid"
    runtime.detached(
        "exec",
        "--process",
        str(tmp_path / "p.json"),
        "--detach",
        "--pid-file",
        str(pidfile),
        "c1",
        log=tmp_path / "exec.log",
    )
    epid = int(pidfile.read_text())
    assert os.path.exists(f"/proc/{epid}")
    assert wait_until(lambda: runtime("exec", "c1", "cat", "/tmp/out", check=False).stdout == "from-process-json\n")
    runtime("delete", "--force", "c1")


def test_detached_exec_enters_every_namespace_and_the_cgroups_and_leaves_no_runtime_behind(
    make_bundle: Any, runtime: Any, tmp_path: Path
) -> None:
    """`exec --detach` forks the process from the runtime itself (no intermediate process): the process is in the
    container's namespaces, mount namespace included, and in its cgroups; nothing of the runtime stays there."""
    b = created(make_bundle, runtime, ["sleep", "1000"], hostname="det-host")
    runtime("start", "c1")
    init = runtime.state("c1")["pid"]
    proc = {"args": ["sh", "-c", "hostname > /tmp/det; echo $$ >> /tmp/det; exec sleep 1000"], "cwd": "/",
            "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
    (tmp_path / "p.json").write_text(json.dumps(proc))
    pidfile = tmp_path / "exec.pid"
    runtime.detached("exec", "--process", str(tmp_path / "p.json"), "--detach", "--pid-file", str(pidfile), "c1",
                     log=tmp_path / "exec.log")
    epid = int(pidfile.read_text())
    assert wait_until(lambda: runtime("exec", "c1", "cat", "/tmp/det", check=False).stdout.count("\n") == 2)
    host, inner_pid = runtime("exec", "c1", "cat", "/tmp/det").stdout.split()
    assert host == "det-host"  # the container's uts namespace, and its /tmp
    assert int(inner_pid) > 1  # its pid namespace
    for ns in ("mnt", "uts", "ipc", "pid", "net", "cgroup"):
        assert os.readlink(f"/proc/{epid}/ns/{ns}") == os.readlink(f"/proc/{init}/ns/{ns}"), ns
    dirs = cgroup_dirs(b.cfg["linux"]["cgroupsPath"])
    assert procs(dirs) == {init, epid}  # the runtime that made it has left
    runtime("delete", "--force", "c1")


def test_detached_exec_of_a_missing_program_fails_and_leaves_nothing(make_bundle: Any, runtime: Any,
                                                                       tmp_path: Path) -> None:
    b = created(make_bundle, runtime, ["sleep", "1000"])
    runtime("start", "c1")
    init = runtime.state("c1")["pid"]
    proc = {"args": ["/bin/no-such-program"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
    (tmp_path / "p.json").write_text(json.dumps(proc))
    res = runtime("exec", "--process", str(tmp_path / "p.json"), "--detach", "--pid-file", str(tmp_path / "x.pid"),
                  "c1", check=False, stdin=subprocess.DEVNULL)
    assert res.returncode != 0
    assert "no-such-program" in res.stderr
    assert not (tmp_path / "x.pid").exists()
    assert wait_until(lambda: procs(cgroup_dirs(b.cfg["linux"]["cgroupsPath"])) == {init})
    runtime("delete", "--force", "c1")


def test_foreground_run_reports_signal_exit(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("c1")
    b.write_config(["sleep", "1000"])
    runtime.ids.append("c1")
    proc = subprocess.Popen(runtime.cmd("run", "--bundle", str(b.path), "c1"), stdin=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: runtime("state", "c1", check=False).stdout.count('"running"') == 1)
        runtime("kill", "c1", "9")
        assert proc.wait(timeout=20) == 137
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_tty_through_console_socket(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    b = make_bundle("c1")
    b.write_config(["sh", "-c", "tty; stty size"], terminal=True, consoleSize={"height": 30, "width": 100})
    runtime.ids.append("c1")
    got = serve_console(str(tmp_path / "console.sock"))
    res = runtime("run", "--console-socket", got["path"], "--bundle", str(b.path), "c1", check=False)
    got["thread"].join(10)
    assert res.returncode == 0, res.stderr
    assert got["name"] == "/dev/pts/0"
    assert got["out"].decode().split() == ["/dev/pts/0", "30", "100"]


def test_failed_create_reports_and_leaves_nothing(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("c1")
    cfg = b.write_config(["/bin/no-such-program"])
    runtime.ids.append("c1")
    res = runtime("create", "--bundle", str(b.path), "c1", check=False, stdin=subprocess.DEVNULL)
    assert res.returncode == 1
    assert "no-such-program" in res.stderr
    assert not (runtime.root / "c1").exists()
    assert not any(os.path.exists(d) for d in cgroup_dirs(cfg["linux"]["cgroupsPath"]))


def test_exec_with_tty_through_console_socket(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    created(make_bundle, runtime, ["sleep", "1000"])
    runtime("start", "c1")
    got = serve_console(str(tmp_path / "exec-console.sock"))
    res = runtime("exec", "--tty", "--console-socket", got["path"], "c1", "sh", "-c", "tty; exit 2", check=False)
    got["thread"].join(10)
    assert res.returncode == 2, res.stderr
    assert got["out"].decode().split() == [got["name"]]
    assert got["name"].startswith("/dev/pts/")
    runtime("delete", "--force", "c1")


SUBREAPER_CALLER = """
import ctypes, subprocess, sys
ctypes.CDLL("libc.so.6").prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER, as the shim does
subprocess.run(sys.argv[1:], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
pid = int(open(sys.argv[sys.argv.index("--pid-file") + 1]).read())
print(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
"""


def test_init_is_reparented_to_the_callers_subreaper(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("c1")
    b.write_config(["sleep", "1000"])
    runtime.ids.append("c1")
    cmd = runtime.cmd("create", "--bundle", str(b.path), "--pid-file", str(b.path / "init.pid"), "c1")
    proc = subprocess.Popen([sys.executable, "-c", SUBREAPER_CALLER, *cmd], stdout=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate(timeout=30)
        assert int(out) == proc.pid
    finally:
        runtime("delete", "--force", "c1")
        proc.wait()


def test_sysctl_is_applied_before_proc_sys_turns_read_only(make_bundle: Any, runtime: Any) -> None:
    b = created(make_bundle, runtime, ["sleep", "1000"], sysctl={"net.ipv4.ip_forward": "1"})
    runtime("start", "c1")
    assert runtime("exec", "c1", "cat", "/proc/sys/net/ipv4/ip_forward").stdout == "1\n"
    assert b.cfg["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    runtime("delete", "--force", "c1")


def test_pause_resume_and_force_delete_while_paused(make_bundle: Any, runtime: Any) -> None:
    b = created(make_bundle, runtime, ["sh", "-c", "while true; do echo tick >> /tmp/ticks; sleep 0.05; done"])
    runtime("start", "c1")
    ticks = b.path / "upper" / "tmp" / "ticks"
    assert wait_until(ticks.exists)
    runtime("pause", "c1")
    assert runtime.state("c1")["status"] == "paused"
    assert runtime("pause", "c1", check=False).returncode == 1
    size = ticks.stat().st_size
    time.sleep(0.3)
    assert ticks.stat().st_size == size
    runtime("resume", "c1")
    assert runtime.state("c1")["status"] == "running"
    assert wait_until(lambda: ticks.stat().st_size > size)
    runtime("pause", "c1")
    assert runtime("delete", "c1", check=False).returncode == 1
    runtime("delete", "--force", "c1")
    assert runtime("state", "c1", check=False).returncode == 1


def test_update_resources_and_ps(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    b = created(make_bundle, runtime, ["sh", "-c", "sleep 1000 & exec sleep 1001"])
    runtime("start", "c1")
    dirs = cgroup_dirs(b.cfg["linux"]["cgroupsPath"])
    assert wait_until(lambda: len(json.loads(runtime("ps", "--format", "json", "c1").stdout)) == 2)
    (tmp_path / "res.json").write_text(json.dumps({"memory": {"limit": 32 * 1024 * 1024}}))
    runtime("update", "-r", str(tmp_path / "res.json"), "--pids-limit", "20", "c1")
    values = {}
    for d in dirs:
        for name in ("memory.limit_in_bytes", "pids.max", "memory.max"):
            if os.path.exists(os.path.join(d, name)):
                with open(os.path.join(d, name)) as f:
                    values[name] = f.read().strip()
    assert values.get("memory.limit_in_bytes", values.get("memory.max")) == str(32 * 1024 * 1024)
    assert values["pids.max"] == "20"
    runtime("delete", "--force", "c1")


def test_hooks_run_at_their_stages_with_the_state(make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    log = tmp_path / "hooks"
    log.mkdir()

    def hook(stage: str, where: str) -> dict[str, Any]:
        return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {where}/{stage}.json"], "timeout": 10}

    hooks = {
        stage: [hook(stage, str(log))]
        for stage in ("prestart", "createRuntime", "createContainer", "poststart", "poststop")
    }
    hooks["startContainer"] = [hook("startContainer", "/tmp")]  # runs inside the container
    b = created(make_bundle, runtime, ["sleep", "1000"], hooks=hooks)
    pid = int((b.path / "init.pid").read_text())
    created_stages = sorted(p.stem for p in log.iterdir())
    assert created_stages == ["createContainer", "createRuntime", "prestart"]
    state = json.loads((log / "createRuntime.json").read_text())
    assert (state["id"], state["pid"], state["bundle"], state["status"]) == ("c1", pid, str(b.path), "creating")
    assert json.loads((log / "createContainer.json").read_text())["pid"] == pid
    runtime("start", "c1")
    assert json.loads((log / "poststart.json").read_text())["status"] == "running"
    assert wait_until((b.path / "upper" / "tmp" / "startContainer.json").exists)
    runtime("delete", "--force", "c1")
    assert json.loads((log / "poststop.json").read_text())["status"] == "stopped"


def test_failing_create_runtime_hook_fails_create(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("c1")
    b.write_config(["sleep", "1000"], hooks={"createRuntime": [{"path": "/bin/false"}]})
    runtime.ids.append("c1")
    res = runtime("create", "--bundle", str(b.path), "c1", check=False, stdin=subprocess.DEVNULL)
    assert res.returncode == 1
    assert "/bin/false" in res.stderr
    assert not (runtime.root / "c1").exists()


def test_foreground_tty_without_console_socket_is_relayed(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("c1")
    b.write_config(["sh", "-c", "tty; read x; echo got-$x; exit 5"], terminal=True)
    runtime.ids.append("c1")
    res = runtime("run", "--bundle", str(b.path), "c1", check=False, input="hello\n")
    assert res.returncode == 5, res.stderr
    assert "/dev/pts/0" in res.stdout
    assert "got-hello" in res.stdout


def _stopped(runtime: Any, cid: str) -> bool:
    return wait_until(lambda: runtime.state(cid)["status"] == "stopped")


def test_quick_delete_of_a_container_whose_processes_are_gone(make_bundle: Any, runtime: Any) -> None:
    from berth.runtime.commands import delete_if_quick

    b = created(make_bundle, runtime, ["sh", "-c", "sleep 1000 & exit 0"])  # its init's exit ends the sleep too
    dirs = cgroup_dirs(b.cfg["linux"]["cgroupsPath"])
    runtime("start", "c1")
    assert _stopped(runtime, "c1")
    assert wait_until(lambda: not procs(dirs))
    assert delete_if_quick(str(runtime.root), "c1")
    assert not any(os.path.exists(d) for d in dirs)
    assert runtime("state", "c1", check=False).returncode == 1


def test_quick_delete_leaves_a_container_with_a_process_left_to_the_full_delete(
        make_bundle: Any, runtime: Any) -> None:
    from berth.runtime.commands import delete_if_quick

    b = created(make_bundle, runtime, ["true"])
    dirs = cgroup_dirs(b.cfg["linux"]["cgroupsPath"])
    runtime("start", "c1")
    assert _stopped(runtime, "c1")
    stray = subprocess.Popen(["sleep", "1000"])
    try:
        for d in dirs:  # a process that came into the container's cgroups from outside its pid namespace
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(stray.pid))
        assert not delete_if_quick(str(runtime.root), "c1")
        assert runtime.state("c1")["status"] == "stopped"  # still there, for the delete that kills
        runtime("delete", "--force", "c1")
        assert stray.wait(10) == -9
        assert not any(os.path.exists(d) for d in dirs)
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()


def test_quick_delete_leaves_a_poststop_hook_to_the_full_delete(
        make_bundle: Any, runtime: Any, tmp_path: Path) -> None:
    from berth.runtime.commands import delete_if_quick

    mark = tmp_path / "poststop-ran"
    hooks = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"touch {mark}"]}]}
    b = created(make_bundle, runtime, ["true"], hooks=hooks)
    dirs = cgroup_dirs(b.cfg["linux"]["cgroupsPath"])
    runtime("start", "c1")
    assert _stopped(runtime, "c1")
    assert not delete_if_quick(str(runtime.root), "c1")
    assert all(os.path.exists(d) for d in dirs)
    runtime("delete", "c1")
    assert mark.exists()
    assert not any(os.path.exists(d) for d in dirs)
