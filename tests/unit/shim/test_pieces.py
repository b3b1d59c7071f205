"""Shim pieces that need no container: json-file log, options, exit codes, runtime errors, clients."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import pytest

from berth.shim.clients import Client
from berth.shim.jsonlog import MAX_PARTIAL, JsonLog, rfc3339nano
from berth.shim.loop import Loop
from berth.shim.main import parse_args
from berth.shim.procs import exit_code_of
from berth.shim.protocol import FRAME_STDIN, FRAME_STDOUT, FrameDecoder, encode_frame
from berth.shim.runtime import Runtime, RuntimeError_, last_error
from berth.util.timefmt import rfc3339nano as reference_rfc3339nano


def read_log(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_log_splits_lines_and_keeps_partial_ones_until_flush(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonLog(str(path))
    log.write("stdout", b"one\ntw", ns=1_700_000_000_123_456_789)
    log.write("stderr", b"err\n")
    log.write("stdout", b"o\nthree")
    assert [(e["log"], e["stream"]) for e in read_log(path)] == [
        ("one\n", "stdout"), ("err\n", "stderr"), ("two\n", "stdout")]
    log.close()
    entries = read_log(path)
    assert entries[-1]["log"] == "three"
    assert entries[0]["time"] == "2023-11-14T22:13:20.123456789Z"


def test_log_breaks_long_lines_like_moby(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonLog(str(path))
    log.write("stdout", b"a" * (MAX_PARTIAL + 10) + b"\n")
    log.close()
    assert [len(e["log"]) for e in read_log(path)] == [MAX_PARTIAL, 11]


def test_log_keeps_non_utf8_output_readable(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonLog(str(path))
    log.write("stdout", "héllo \xff".encode("latin-1") + "ünï\n".encode())
    log.close()
    assert read_log(path)[0]["log"].endswith("ünï\n")


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["log"] for line in path.read_text().splitlines()]


def test_log_rotates_past_max_size_keeping_max_files(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonLog(str(path), max_size=300, max_files=3)
    for i in range(40):
        log.write("stdout", f"line {i}\n".encode())
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    for rotated in ("c-json.log.1", "c-json.log.2"):  # as dockerd: rotation at the first entry past the size
        size = (tmp_path / rotated).stat().st_size
        assert 300 <= size < 300 + len(path.read_text().splitlines()[0]) + 1
    kept = _texts(tmp_path / "c-json.log.2") + _texts(tmp_path / "c-json.log.1") + _texts(path)
    assert kept == [f"line {i}\n" for i in range(40 - len(kept), 40)]
    assert len(kept) < 40


def test_log_with_one_file_starts_again_empty(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonLog(str(path), max_size=200, max_files=1)
    for i in range(30):
        log.write("stdout", f"line {i}\n".encode())
    log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["c-json.log"]
    texts = _texts(path)
    assert texts[-1] == "line 29\n"
    assert path.stat().st_size < 200 + 100


def test_log_counts_what_the_file_already_holds(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    path.write_bytes(b"x" * 500 + b"\n")  # a shim restarted on a full file rotates at its first entry
    log = JsonLog(str(path), max_size=300, max_files=2)
    log.write("stdout", b"new\n")
    log.close()
    assert _texts(path) == ["new\n"]
    assert (tmp_path / "c-json.log.1").read_bytes() == b"x" * 500 + b"\n"


@pytest.mark.parametrize("ns", [1, 1_000_000_000, 1_795_360_283_520_118_837, 1_795_360_283_500_000_000])
def test_time_format_matches_timefmt(ns: int) -> None:
    assert rfc3339nano(ns) == reference_rfc3339nano(ns)


def test_parse_args() -> None:
    opts = parse_args(["--id", "c1", "--bundle", "/b", "--dir=/s", "--runtime", '["runc","--root","/r"]',
                       "--log-path", "/l.log", "--tty", "--runtime-root", "/rr"])
    assert opts["runtime"] == ["runc", "--root", "/r", "--root", "/rr"]
    assert (opts["tty"], opts["stdin"], opts["dir"]) == (True, False, "/s")
    with pytest.raises(ValueError, match="missing"):
        parse_args(["--id", "x"])
    with pytest.raises(ValueError, match="unknown"):
        parse_args(["--frobnicate"])
    with pytest.raises(ValueError):
        parse_args(["--id", "c", "--bundle", "b", "--dir", "d", "--runtime", "{}", "--log-path", "l"])
    assert (opts["log_max_size"], opts["log_max_files"]) == (-1, 1)
    base = ["--id", "c", "--bundle", "/b", "--dir", "/d", "--runtime", '["r"]']
    rotating = parse_args([*base, "--log-path", "/l", "--log-max-size", "1000", "--log-max-files", "3"])
    assert (rotating["log_path"], rotating["log_max_size"], rotating["log_max_files"]) == ("/l", 1000, 3)
    assert parse_args([*base, "--log-path", ""])["log_path"] == ""  # driver none: nothing is logged
    with pytest.raises(ValueError, match="whole number"):
        parse_args([*base, "--log-path", "/l", "--log-max-size", "1k"])


def test_exit_codes_follow_docker() -> None:
    assert exit_code_of(3 << 8) == 3
    assert exit_code_of(signal.SIGKILL) == 137
    assert exit_code_of(signal.SIGTERM) == 143


def test_runtime_errors_carry_the_runtimes_message(tmp_path: Path) -> None:
    script = tmp_path / "fake-runtime"
    line = 'time="x" level=error msg="container \\"c\\" does not exist"'
    script.write_text(f"#!/bin/sh\necho '{line}' >&2\nexit 1\n")
    script.chmod(0o755)
    rt = Runtime([str(script)], str(tmp_path / "err"))
    with pytest.raises(RuntimeError_, match='container "c" does not exist'):
        rt.run(["state", "c"])
    Runtime(["true"], str(tmp_path / "err")).run(["anything"])
    assert last_error("\n  first\nlast line  \n\n") == "last line"


def test_client_request_reply_and_frames() -> None:
    loop = Loop()
    ours, theirs = socket.socketpair()
    got: list[tuple[int, bytes]] = []

    def handle(client: Client, req: dict[str, object]) -> None:
        client.reply({"ok": True, "echo": req["op"]})
        client.start_stream(lambda kind, data: got.append((kind, data)))
        client.send_frame(FRAME_STDOUT, b"out")
        loop.call_later(0, loop.stop)

    client = Client(loop, ours, handle)
    theirs.sendall(b'{"op":"attach"}\n' + encode_frame(FRAME_STDIN, b"in"))
    loop.run()
    reply = theirs.recv(4096)
    line, rest = reply.split(b"\n", 1)
    assert json.loads(line) == {"ok": True, "echo": "attach"}
    assert FrameDecoder().feed(rest) == [(FRAME_STDOUT, b"out")]
    assert got == [(FRAME_STDIN, b"in")]
    closed: list[bool] = []
    client.on_close(lambda: closed.append(True))
    theirs.close()
    loop.call_later(0.5, loop.stop)
    loop.run()
    assert closed == [True]
    loop.close()


def test_client_bad_json_gets_an_error_reply() -> None:
    loop = Loop()
    ours, theirs = socket.socketpair()
    Client(loop, ours, lambda c, r: None)
    theirs.sendall(b"{oops\n")
    loop.call_later(0.2, loop.stop)
    loop.run()
    reply = json.loads(theirs.recv(4096))
    assert reply["ok"] is False
    assert "invalid JSON" in reply["error"]
    assert theirs.recv(10) == b""
    theirs.close()
    loop.close()


def test_loop_survives_a_failing_callback(capsys: pytest.CaptureFixture[str]) -> None:
    loop = Loop()
    r, w = os.pipe()
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("bug")

    loop.set_reader(r, broken)
    os.write(w, b"x")
    loop.call_later(0.05, lambda: ran.append("timer"))
    loop.call_later(0.1, loop.stop)
    loop.run()
    assert ran == ["timer"]
    assert "RuntimeError: bug" in capsys.readouterr().err
    os.close(r)
    os.close(w)
    loop.close()
