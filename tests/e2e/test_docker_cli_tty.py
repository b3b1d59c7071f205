"""Interactive use through the real docker CLI on a terminal: -it shells, resize, detach keys, exec -it."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.daemon_harness import DOCKER, Daemon
from tests.e2e.ptyrun import PtyProcess

pytestmark = pytest.mark.e2e


def test_interactive_shell_with_resize(berthd: Daemon) -> None:
    p = PtyProcess([DOCKER, "run", "-it", "--rm", "busybox", "sh"], berthd.env(), rows=30, cols=100)
    try:
        p.read_until(b"# ")
        p.write(b"stty size; tty\r")
        p.read_until(b"30 100")
        p.read_until(b"/dev/pts/0")
        p.resize(40, 120)
        time.sleep(0.5)
        p.write(b"stty size\r")
        p.read_until(b"40 120")
        p.write(b"exit 5\r")
        assert p.wait() == 5
    finally:
        p.close()


def test_detach_keys_leave_the_container_running(berthd: Daemon) -> None:
    p = PtyProcess([DOCKER, "run", "-it", "--name", "detachme", "busybox", "sh"], berthd.env())
    try:
        p.read_until(b"# ")
        p.write(b"echo marker-$((6*7))\r")
        p.read_until(b"marker-42")
        p.write(b"\x10\x11")
        assert p.wait() == 0
        state = json.loads(berthd.docker("inspect", "detachme").stdout)[0]["State"]
        assert state["Running"] is True
    finally:
        p.close()
    a = PtyProcess([DOCKER, "attach", "detachme"], berthd.env())
    try:
        time.sleep(0.5)
        a.write(b"echo again-$((2*21))\r")
        a.read_until(b"again-42")
        a.write(b"exit 0\r")
        assert a.wait() == 0
    finally:
        a.close()
        berthd.docker("rm", "-f", "detachme")


def test_exec_it(berthd: Daemon) -> None:
    cid = berthd.docker("run", "-d", "busybox", "sleep", "1000").stdout.decode().strip()
    p = PtyProcess([DOCKER, "exec", "-it", cid, "sh"], berthd.env(), rows=22, cols=77)
    try:
        p.read_until(b"# ")
        p.write(b"stty size; exit 3\r")
        p.read_until(b"22 77")
        assert p.wait() == 3
    finally:
        p.close()
        berthd.docker("rm", "-f", cid)


def test_signals_are_forwarded_with_sig_proxy(berthd: Daemon) -> None:
    proc = subprocess.Popen(
        [DOCKER, "run", "--rm", "busybox", "sh", "-c", "trap 'echo got-term; exit 9' TERM; "
         "echo ready; while true; do sleep 0.1; done"],
        env=berthd.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        assert b"got-term" in out
        assert proc.returncode == 9
    finally:
        if proc.poll() is None:
            proc.kill()
