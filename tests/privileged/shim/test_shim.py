"""The shim on the real kernel with a real OCI runtime: lifecycle, logs, attach, stdin, tty, kill, exec."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from berth import errdefs
from berth.daemon.shimclient import ShimClient, ShimError, ShimStream
from berth.shim.protocol import FRAME_EXIT, FRAME_STDERR, FRAME_STDOUT
from tests.daemon_harness import process_alive
from tests.privileged.shim.conftest import CGROUP_ROOT, Harness, run, shim_pids
from tests.unixline import ask_line

pytestmark = pytest.mark.privileged


async def collect(stream: ShimStream) -> tuple[bytes, bytes, int | None]:
    """Read a stream to its end: (stdout, stderr, exit code from the exit frame)."""
    out, err, code = b"", b"", None
    while (frame := await stream.read_frame()) is not None:
        kind, payload = frame
        if kind == FRAME_STDOUT:
            out += payload
        elif kind == FRAME_STDERR:
            err += payload
        elif kind == FRAME_EXIT:
            code = json.loads(payload)["exit_code"]
    await stream.close()
    return out, err, code


async def read_until(stream: ShimStream, needle: bytes) -> bytes:
    seen = b""
    while needle not in seen:
        frame = await stream.read_frame()
        assert frame is not None, f"stream ended before {needle!r}; got {seen!r}"
        seen += frame[1]
    return seen


def wait_gone(pids: list[int]) -> bool:
    """True once none of `pids` runs any more (an exiting shim may take a moment)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not any(process_alive(p) for p in pids):
            return True
        time.sleep(0.02)
    return False


def settled_shim_pids(shim_dir: str) -> list[int]:
    """The shim's pids once the container's init has exec'd: until then it is a copy of the shim (its fork), and
    `start` returns once init is released, as runc's does, not once it has exec'd."""
    deadline = time.monotonic() + 10
    pids = shim_pids(shim_dir)
    while len(pids) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
        pids = shim_pids(shim_dir)
    return pids


def test_start_writes_log_and_exit_json(harness: Harness) -> None:
    cid, client, pid = harness.launch(["sh", "-c", "echo hello; echo oops >&2; printf partial; exit 3"])
    assert pid > 0

    async def scenario() -> dict[str, object]:
        assert (await client.state())["status"] == "created"
        await client.start()
        result = await client.wait()
        state = await client.state()
        assert state["status"] == "stopped"
        assert state["exit_code"] == 3
        assert state["pid"] == pid
        return result

    result = run(scenario())
    assert result["exit_code"] == 3
    entries = harness.log_entries(cid)
    assert [(e["log"], e["stream"]) for e in entries if e["stream"] == "stdout"] == [
        ("hello\n", "stdout"), ("partial", "stdout")]
    assert [e["log"] for e in entries if e["stream"] == "stderr"] == ["oops\n"]
    assert all(e["time"].endswith("Z") and "T" in e["time"] for e in entries)
    with open(os.path.join(harness.shim_dir(cid), "exit.json")) as f:
        record = json.load(f)
    assert record["exit_code"] == 3
    assert record["finished_at"] >= record["started_at"] > 0
    run(client.delete())


def test_attach_receives_stdout_and_stderr_frames(harness: Harness) -> None:
    _, client, _ = harness.launch(["sh", "-c", "echo to-out; echo to-err >&2; exit 0"])

    async def scenario() -> tuple[tuple[bytes, bytes, int | None], tuple[bytes, bytes, int | None]]:
        both = await client.attach(stdin=False, stdout=True, stderr=True)
        only_err = await client.attach(stdin=False, stdout=False, stderr=True)
        await client.start()
        return await collect(both), await collect(only_err)

    both, only_err = run(scenario())
    assert both == (b"to-out\n", b"to-err\n", 0)
    assert only_err == (b"", b"to-err\n", 0)
    run(client.delete())


def test_attach_after_exit_gets_the_exit_frame(harness: Harness) -> None:
    _, client, _ = harness.launch(["sh", "-c", "exit 9"])

    async def scenario() -> tuple[bytes, bytes, int | None]:
        await client.start()
        await client.wait()
        return await collect(await client.attach(stdin=False, stdout=True, stderr=True))

    assert run(scenario()) == (b"", b"", 9)
    run(client.delete())


def test_stdin_frames_reach_cat(harness: Harness) -> None:
    cid, client, _ = harness.launch(["cat"], stdin=True)

    async def scenario() -> tuple[bytes, bytes, int | None]:
        stream = await client.attach(stdin=True, stdout=True, stderr=True)
        await client.start()
        await stream.write_stdin(b"first line\n")
        assert b"first line\n" in await read_until(stream, b"first line\n")
        await stream.write_stdin(b"second\n")
        await stream.close_stdin()
        return await collect(stream)

    out, _, code = run(scenario())
    assert out == b"second\n"
    assert code == 0
    assert [e["log"] for e in harness.log_entries(cid)] == ["first line\n", "second\n"]
    run(client.delete())


def test_close_stdin_request_ends_cat(harness: Harness) -> None:
    _, client, _ = harness.launch(["cat"], stdin=True)

    async def scenario() -> int:
        stream = await client.attach(stdin=True, stdout=True, stderr=False)
        await client.start()
        await stream.write_stdin(b"x\n")
        await read_until(stream, b"x\n")
        await client.close_stdin()
        return int((await client.wait())["exit_code"])

    assert run(scenario()) == 0
    run(client.delete())


def test_tty_output_and_resize(harness: Harness) -> None:
    script = "read line; stty size; echo err-too >&2"
    cid, client, _ = harness.launch(["sh", "-c", script], stdin=True, tty=True)

    async def scenario() -> bytes:
        stream = await client.attach(stdin=True, stdout=True, stderr=True)
        await client.start()
        await client.resize(33, 101)
        await stream.write_stdin(b"go\n")
        out, err, code = await collect(stream)
        assert err == b""
        assert code == 0
        return out

    out = run(scenario())
    assert b"33 101" in out
    assert b"err-too" in out
    entries = harness.log_entries(cid)
    assert {e["stream"] for e in entries} == {"stdout"}
    assert any("33 101" in e["log"] for e in entries)
    run(client.delete())


def test_kill_with_sigkill_gives_137(harness: Harness) -> None:
    _, client, _ = harness.launch(["sleep", "1000"])

    async def scenario() -> tuple[int, str]:
        await client.start()
        assert (await client.state())["status"] == "running"
        await client.kill(signal.SIGKILL, all=True)
        code = int((await client.wait())["exit_code"])
        return code, str((await client.state())["status"])

    assert run(scenario()) == (137, "stopped")
    with pytest.raises(errdefs.Conflict):
        run(client.kill(signal.SIGTERM))
    run(client.delete())


def test_kill_delivers_the_signal(harness: Harness) -> None:
    _, client, _ = harness.launch(["sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; "
                                   "while true; do sleep 0.05; done"])

    async def scenario() -> tuple[bytes, bytes, int | None]:
        stream = await client.attach(stdin=False, stdout=True, stderr=True)
        await client.start()
        seen = await read_until(stream, b"ready\n")
        await client.kill(signal.SIGTERM)
        out, err, code = await collect(stream)
        return seen + out, err, code

    out, _, code = run(scenario())
    assert b"got-term" in out
    assert code == 7
    run(client.delete())


def test_wait_answers_every_waiter(harness: Harness) -> None:
    _, client, _ = harness.launch(["sh", "-c", "read x; exit 5"], stdin=True)

    async def scenario() -> list[int]:
        import asyncio

        waiters = [asyncio.create_task(client.wait()) for _ in range(3)]
        await client.start()
        await asyncio.sleep(0)
        assert not any(w.done() for w in waiters)
        stream = await client.attach(stdin=True, stdout=False, stderr=False)
        await stream.write_stdin(b"\n")
        results = await asyncio.gather(*waiters)
        await stream.close()
        return [int(r["exit_code"]) for r in results]

    assert run(scenario()) == [5, 5, 5]
    run(client.delete())


def _process(args: list[str], tty: bool = False) -> dict[str, object]:
    return {"terminal": tty, "user": {"uid": 0, "gid": 0}, "args": args, "cwd": "/",
            "env": ["PATH=/bin:/usr/bin", "TERM=xterm"]}


def test_exec_output_and_exit_code(harness: Harness) -> None:
    cid, client, _ = harness.launch(["sh", "-c", "echo init-output; exec sleep 1000"])

    async def scenario() -> None:
        await client.start()
        script = "echo exec-out; echo exec-err >&2; exit 4"
        pid, stream = await client.exec("e1", _process(["sh", "-c", script]), stdin=False)
        assert pid > 0
        assert await collect(stream) == (b"exec-out\n", b"exec-err\n", 4)
        assert await client.exec_state("e1") == {"ok": True, "running": False, "pid": pid, "exit_code": 4}
        with pytest.raises(errdefs.NotFound):
            await client.exec_state("nope")
        with pytest.raises(errdefs.Conflict):
            await client.exec("e1", _process(["true"]), stdin=False)

    run(scenario())
    assert [e["log"] for e in harness.log_entries(cid)] == ["init-output\n"]
    run(client.kill(signal.SIGKILL, all=True))
    run(client.wait())  # the shim reaps the init first: delete refuses while it still runs (as the daemon waits)
    run(client.delete())


def test_exec_with_stdin_and_tty_resize(harness: Harness) -> None:
    _, client, _ = harness.launch(["sleep", "1000"])

    async def scenario() -> tuple[bytes, bytes, int | None]:
        await client.start()
        _, piped = await client.exec("cat", _process(["cat"]), stdin=True)
        await piped.write_stdin(b"via-exec\n")
        await piped.close_stdin()
        assert await collect(piped) == (b"via-exec\n", b"", 0)
        _, tty = await client.exec("tty", _process(["sh", "-c", "read x; stty size"], tty=True), stdin=True)
        await client.resize(12, 34, exec_id="tty")
        await tty.write_stdin(b"\n")
        return await collect(tty)

    out, err, code = run(scenario())
    assert b"12 34" in out
    assert err == b""
    assert code == 0
    run(client.kill(signal.SIGKILL, all=True))
    run(client.wait())  # the shim reaps the init first: delete refuses while it still runs (as the daemon waits)
    run(client.delete())


_NAMESPACES = ("mnt", "uts", "ipc", "pid", "net", "cgroup")


def test_exec_joins_the_containers_namespaces_and_cgroups(harness: Harness) -> None:
    """With Berth's runtime the shim forks an exec'd process itself; with runc, `runc exec` does: either way the
    process is in every namespace and every cgroup of the container's init."""
    _, client, init = harness.launch(["sleep", "1000"])

    async def scenario() -> tuple[int, bytes]:
        await client.start()
        pid, stream = await client.exec("ns", _process(["sh", "-c", "echo $$; exec sleep 1000"]), stdin=False)
        return pid, await read_until(stream, b"\n")

    pid, inner = run(scenario())
    assert int(inner) not in (pid, 1)  # its pid in the container's pid namespace, not the host's
    for ns in _NAMESPACES:
        assert os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/{init}/ns/{ns}"), ns
    with open(f"/proc/{pid}/cgroup") as mine, open(f"/proc/{init}/cgroup") as inits:
        assert mine.read() == inits.read()
    run(client.kill(signal.SIGKILL, all=True))
    run(client.wait())  # the shim reaps the init first: delete refuses while it still runs (as the daemon waits)
    run(client.delete())


def test_shim_keeps_no_namespace_of_a_container_that_stopped(harness: Harness) -> None:
    """The namespaces an exec joins are held open by the shim only while init runs: a stopped container's network
    namespace (and the rest) must go with it, not linger until `rm`."""
    cid, client, init = harness.launch(["sleep", "1000"])

    async def scenario() -> None:
        await client.start()
        _, stream = await client.exec("e", _process(["true"]), stdin=False)
        assert (await collect(stream))[2] == 0

    run(scenario())
    theirs = {os.readlink(f"/proc/{init}/ns/{ns}") for ns in _NAMESPACES}
    shim = settled_shim_pids(harness.shim_dir(cid))
    run(client.kill(signal.SIGKILL))
    assert run(client.wait())["exit_code"] == 137

    def held() -> set[str]:
        links = set()
        for pid in shim:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    links.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except FileNotFoundError:
                    continue
        return links & theirs

    assert held() == set()
    run(client.delete())


def test_exec_of_a_missing_program_fails(harness: Harness) -> None:
    _, client, _ = harness.launch(["sleep", "1000"])
    run(client.start())
    with pytest.raises(errdefs.System, match="no-such-program"):
        run(client.exec("bad", _process(["/no-such-program"]), stdin=False))
    assert run(client.state())["status"] == "running"
    run(client.delete())


def test_launch_of_a_missing_program_reports_the_error(harness: Harness) -> None:
    with pytest.raises(ShimError, match=r"OCI runtime create failed: .") as failure:
        harness.launch(["/no-such-program"])
    # berth-runtime sometimes loses the error text to "[Errno 32] Broken pipe" (its race, reported)
    if harness.runtime_name == "runc":
        assert "no-such-program" in str(failure.value)


def test_delete_cleans_shim_dir_runtime_state_and_cgroup(harness: Harness) -> None:
    cid, client, pid = harness.launch(["sleep", "1000"])
    run(client.start())
    shim = settled_shim_pids(harness.shim_dir(cid))
    assert len(shim) == 1

    async def scenario() -> dict[str, object]:
        import asyncio

        waiter = asyncio.create_task(client.wait())
        await asyncio.sleep(0.1)
        await client.delete()
        return await waiter

    assert run(scenario())["exit_code"] == 137
    assert not os.path.exists(harness.shim_dir(cid))
    state = subprocess.run([*harness.argv, "state", cid], capture_output=True)
    assert state.returncode != 0
    assert not os.path.exists(f"/proc/{pid}")
    assert wait_gone(shim)
    assert not os.path.exists(os.path.join(CGROUP_ROOT, "pids", harness.cgroup_parent, cid))
    assert run(harness.launcher.connect(cid)) is None


def test_shim_survives_its_launcher(harness: Harness) -> None:
    cid = harness.new_id()
    bundle = harness.bundle(cid, ["sh", "-c", "echo before; read x; echo after $x"])
    code = (
        "import asyncio, json, sys\n"
        "from berth.daemon.containers.logconfig import LogTarget\n"
        "from berth.daemon.shimclient import ShimLauncher\n"
        f"l = ShimLauncher({harness.launcher.shims_root!r}, {harness.argv!r})\n"
        f"c, pid = asyncio.run(l.launch({cid!r}, {bundle!r}, LogTarget({harness.log_path(cid)!r}), True, False))\n"
        "asyncio.run(c.start())\n"
        "print(pid)\n"
    )
    launcher = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = launcher.communicate(timeout=60)
    assert launcher.returncode == 0, err
    assert int(out) > 0
    [shim] = settled_shim_pids(harness.shim_dir(cid))
    with open(f"/proc/{shim}/status") as f:
        ppid = int(next(line for line in f if line.startswith("PPid:")).split()[1])
    assert ppid not in (launcher.pid, os.getpid())

    reconnected = run(harness.launcher.connect(cid))
    assert isinstance(reconnected, ShimClient)
    client = reconnected

    async def scenario() -> tuple[bytes, bytes, int | None]:
        assert (await client.state())["status"] == "running"
        _, ex = await client.exec("later", _process(["echo", "exec-works"]), stdin=False)
        assert await collect(ex) == (b"exec-works\n", b"", 0)
        stream = await client.attach(stdin=True, stdout=True, stderr=True)
        await stream.write_stdin(b"again\n")
        return await collect(stream)

    assert run(scenario()) == (b"after again\n", b"", 0)
    assert [e["log"] for e in harness.log_entries(cid)] == ["before\n", "after again\n"]
    run(client.delete())
    assert wait_gone([shim])


def _raw(path: str, payload: bytes) -> dict[str, object]:
    reply: dict[str, object] = json.loads(ask_line(path, payload))
    return reply


def test_bad_requests_get_errors_and_the_shim_keeps_serving(harness: Harness) -> None:
    cid, client, _ = harness.launch(["sleep", "1000"])
    sock = os.path.join(harness.shim_dir(cid), "shim.sock")
    for payload in (b"not json\n", b"[1,2]\n", b'{"op":"fly"}\n', b'{"op":"kill","signal":"TERM"}\n',
                    b'{"op":"kill","signal":999}\n', b'{"op":"resize","h":-1,"w":5}\n',
                    b'{"op":"exec","exec_id":"../x","process":{"args":["true"]}}\n',
                    b'{"op":"exec","exec_id":"ok","process":{}}\n', b'{"op":"exec_state"}\n'):
        reply = _raw(sock, payload)
        assert reply["ok"] is False, payload
        assert reply["error"]
    assert _raw(sock, b'{"op":"state"}\n')["status"] == "created"
    run(client.start())

    async def drop_clients() -> None:
        from berth.daemon.shimclient import open_connection

        for _ in range(3):  # attachers and waiters that vanish without a word
            stream = await client.attach(stdin=True, stdout=True, stderr=True)
            await stream.close()
            _, writer = await open_connection(sock)
            writer.write(b'{"op":"wait"}\n')
            await writer.drain()
            writer.close()
            _, writer2 = await open_connection(sock)
            writer2.close()
        _, ex = await client.exec("gone", _process(["sh", "-c", "sleep 0.2; echo late"]), stdin=True)
        await ex.close()

    run(drop_clients())
    assert run(client.state())["status"] == "running"
    assert run(client.exec_state("gone"))["pid"]
    run(client.kill(signal.SIGKILL, all=True))
    assert run(client.wait())["exit_code"] == 137
    run(client.delete())


def test_megabytes_through_stdin_and_stdout(harness: Harness) -> None:
    cid, client, _ = harness.launch(["cat"], stdin=True)
    line = b"0123456789" * 9 + b"abcdefghi\n"  # 100 bytes
    count = 40_000  # 4 MB: more than every pipe and socket buffer on the way

    async def scenario() -> tuple[bytes, bytes, int | None]:
        import asyncio

        stream = await client.attach(stdin=True, stdout=True, stderr=True)
        await client.start()

        async def feed() -> None:
            await stream.write_stdin(line * count)
            await stream.close_stdin()

        feeder = asyncio.create_task(feed())
        result = await collect(stream)
        await feeder
        return result

    out, err, code = run(scenario(), timeout=120)
    assert code == 0
    assert err == b""
    assert out == line * count
    entries = harness.log_entries(cid)
    assert len(entries) == count
    assert {e["log"] for e in entries} == {line.decode()}
    run(client.delete())


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return {int(p) for p in f.read().split()}


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _held_child(init: int) -> int:
    """The one child of the shim besides init: the process an exec_prepare made ready."""
    found = _children(_parent(init)) - {init}
    assert len(found) == 1, found
    return found.pop()


def test_a_prepared_exec_is_the_process_its_start_runs(harness: Harness) -> None:
    """exec_prepare (at exec create) hands the process to a spare that joins the container; the start with the
    same process has that spare spawn it (and exit). Other runtimes run `runtime exec` at the start: nothing
    is prepared."""
    cid, client, init = harness.launch(["sleep", "1000"])
    process = _process(["sh", "-c", "echo prepared; exit 5"])

    async def scenario() -> tuple[bool, int | None, int, tuple[bytes, bytes, int | None]]:
        await client.start()
        prepared = await client.exec_prepare("p1", process, stdin=False)
        held = _held_child(init) if prepared else None
        pid, stream = await client.exec("p1", process, stdin=False)
        return prepared, held, pid, await collect(stream)

    prepared, held, pid, result = run(scenario())
    assert prepared == (harness.runtime_name == "berth")
    assert result == (b"prepared\n", b"", 5)
    if held is not None:
        assert held != pid
        assert wait_gone([held])  # used up: it spawned the process and left
        with open(os.path.join(harness.shim_dir(cid), "shim.log")) as f:
            assert "ready exec" not in f.read()  # the start did not fall back to a process of its own
    run(client.kill(signal.SIGKILL, all=True))
    run(client.wait())  # the shim reaps the init first: delete refuses while it still runs (as the daemon waits)
    run(client.delete())


def test_a_prepared_exec_that_its_start_does_not_ask_for_is_killed(berth_harness: Harness) -> None:
    _, client, init = berth_harness.launch(["sleep", "1000"])

    async def scenario() -> tuple[int, int, tuple[bytes, bytes, int | None]]:
        await client.start()
        assert await client.exec_prepare("p2", _process(["echo", "not-me"]), stdin=False)
        held = _held_child(init)
        pid, stream = await client.exec("p2", _process(["echo", "me"]), stdin=False)
        return held, pid, await collect(stream)

    held, pid, result = run(scenario())
    assert result == (b"me\n", b"", 0)
    assert pid != held
    assert wait_gone([held])
    run(client.kill(signal.SIGKILL, all=True))
    run(client.wait())  # the shim reaps the init first: delete refuses while it still runs (as the daemon waits)
    run(client.delete())


def test_a_prepared_exec_never_started_is_killed_and_its_start_still_works(berth_harness: Harness) -> None:
    from berth.shim.execstart import READY_TTL

    _, client, init = berth_harness.launch(["sleep", "1000"])
    process = _process(["echo", "late"])
    run(client.start())
    assert run(client.exec_prepare("p3", process, stdin=False))
    held = _held_child(init)
    deadline = time.monotonic() + READY_TTL + 10
    while process_alive(held) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_alive(held)
    assert _children(_parent(init)) == {init}  # reaped, not a zombie

    async def start() -> tuple[bytes, bytes, int | None]:
        _, stream = await client.exec("p3", process, stdin=False)
        return await collect(stream)

    assert run(start()) == (b"late\n", b"", 0)
    run(client.kill(signal.SIGKILL, all=True))
    run(client.wait())  # the shim reaps the init first: delete refuses while it still runs (as the daemon waits)
    run(client.delete())


def test_a_prepared_exec_cannot_be_read_from_inside_the_container(berth_harness: Harness) -> None:
    """It waits inside the container's pid namespace with a copy of the shim's memory: it is not dumpable, so
    its /proc entries are root's (not its user's) and the container's processes cannot ptrace it or read it."""
    _, client, init = berth_harness.launch(["sleep", "1000"])
    process = {**_process(["true"]), "user": {"uid": 1000, "gid": 1000}}
    run(client.start())
    assert run(client.exec_prepare("p4", process, stdin=False))
    held = _held_child(init)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until it has taken its user (it sets itself up while the shim goes on)
        with open(f"/proc/{held}/status") as f:
            if "Uid:\t1000\t" in f.read():
                break
        time.sleep(0.01)
    else:
        pytest.fail("the prepared process never took its user")
    assert os.stat(f"/proc/{held}/fd").st_uid == 0
    run(client.kill(signal.SIGKILL, all=True))
    run(client.wait())  # the shim reaps the init first: delete refuses while it still runs (as the daemon waits)
    run(client.delete())
