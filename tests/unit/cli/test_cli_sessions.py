"""Interactive details of attached sessions: TTY resize and raw output, signal forwarding, detach keys."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from berth.cli.session import Session, parse_detach_keys
from tests.unit.cli.conftest import CID, Engine

Berth = Callable[..., tuple[int, str, str]]


def test_run_tty_resizes_and_copies_raw_output(engine: Engine, berth: Berth,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("berth.cli.session.terminal_size", lambda: (30, 100))
    engine.tty = True
    engine.output = ((1, b"\x1b[1mraw\r\n"),)
    code, out, _ = berth("run", "-t", "busybox", "sh")
    assert (code, out) == (0, "\x1b[1mraw\r\n")
    resize = engine.last(f"POST /containers/{CID}/resize")
    assert (resize.q("h"), resize.q("w")) == ("30", "100")
    assert engine.created[0]["Tty"] is True
    assert engine.created[0]["HostConfig"]["ConsoleSize"] == [30, 100]


def test_signals_are_forwarded_as_kill(engine: Engine, berth: Berth) -> None:
    engine.hold_until_killed = True
    engine.exit_code = 143

    def send() -> None:
        engine.started.wait(10)
        os.kill(os.getpid(), signal.SIGUSR1)
    threading.Thread(target=send, daemon=True).start()
    code, out, _ = berth("run", "busybox", "sleep", "100")
    assert (code, out) == (143, "hello\n")
    assert engine.last(f"POST /containers/{CID}/kill").q("signal") == "USR1"
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_a_signal_another_thread_receives_is_forwarded_without_waiting_for_output(engine: Engine,
                                                                                  berth: Berth) -> None:
    # Python runs handlers in the main thread only: blocked on the stream, it must wake up for the signal
    engine.hold_until_killed = True
    engine.exit_code = 143

    def send() -> None:
        engine.started.wait(10)
        time.sleep(0.2)  # the CLI is waiting on the attached stream by then
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)  # to this thread, not the main one
    threading.Thread(target=send, daemon=True).start()
    code, out, _ = berth("run", "busybox", "sleep", "100")
    assert (code, out) == (143, "hello\n")
    assert engine.released_by_kill  # forwarded while the CLI waited, not after the engine gave up
    assert engine.last(f"POST /containers/{CID}/kill").q("signal") == "USR1"


def test_no_signal_proxy_when_disabled(engine: Engine, berth: Berth) -> None:
    berth("run", "--sig-proxy=false", "busybox", "true")
    assert f"POST /containers/{CID}/kill" not in engine.daemon.paths()


def test_detach_keys() -> None:
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("ctrl-@,a,ctrl-[") == b"\x00a\x1b"
    with pytest.raises(ValueError, match="Unknown character"):
        parse_detach_keys("ctrl-pq")


def test_detach_sequence_is_found_across_reads() -> None:
    s = Session.__new__(Session)
    s.keys, s.detached = b"\x10\x11", False
    data, pending = s._scan(b"abc\x10")
    assert (data, pending, s.detached) == (b"abc", b"\x10", False)
    data, pending = s._scan(pending + b"\x11rest")
    assert (data, s.detached) == (b"", True)


def test_run_it_under_a_pty_raw_mode_resize_sigwinch_detach(engine: Engine) -> None:
    import fcntl
    import struct
    import subprocess
    import sys
    import termios
    engine.tty = True
    engine.echo_stdin = True
    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        before = termios.tcgetattr(slave)
        env = {**os.environ, "BERTH_HOST": engine.daemon.host}
        proc = subprocess.Popen([sys.executable, "-m", "berth.cli.main", "run", "-it", "busybox", "sh"],
                                stdin=slave, stdout=slave, stderr=slave, env=env)
        try:
            assert engine.started.wait(10)
            deadline = time.monotonic() + 10
            while termios.tcgetattr(slave)[3] & termios.ICANON and time.monotonic() < deadline:
                time.sleep(0.01)
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
            proc.send_signal(signal.SIGWINCH)
            while time.monotonic() < deadline and not [
                    r for r in engine.daemon.requests if r.path.endswith("/resize") and r.q("h") == "50"]:
                time.sleep(0.01)
            os.write(master, b"ls\r\x10\x11")
            assert proc.wait(10) == 0
        finally:
            proc.kill()
            proc.wait()
        assert termios.tcgetattr(slave) == before
        sizes = [(r.q("h"), r.q("w")) for r in engine.daemon.requests if r.path.endswith("/resize")]
        assert sizes == [("40", "120"), ("50", "132")]
        assert engine.created[0]["HostConfig"]["ConsoleSize"] == [40, 120]
        assert engine.last(f"POST /containers/{CID}/attach").q("stdin") == "1"
    finally:
        os.close(master)
        os.close(slave)


def test_it_without_a_terminal_is_refused(engine: Engine, berth: Berth,
                                          stdin_pipe: Callable[[bytes], None]) -> None:
    stdin_pipe(b"")
    assert berth("run", "-it", "busybox") == (1, "", "the input device is not a TTY\n")
    assert engine.daemon.requests == []
