"""Debian's docker 20.10 CLI (API 1.41) against berthd: the old end of the supported version range."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.daemon_harness import REPO, Daemon

pytestmark = pytest.mark.e2e

OLD_DOCKER = os.path.join(REPO, ".test-tools", "docker", "usr", "bin", "docker")


def old(d: Daemon, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    if not os.access(OLD_DOCKER, os.X_OK):
        raise AssertionError(f"{OLD_DOCKER} is missing: scripts/install-deps.sh unpacks it (BERTH_TEST_DEPS=1)")
    return subprocess.run([OLD_DOCKER, *args], env=d.env(), input=stdin, capture_output=True, timeout=60)


def test_negotiates_1_41_and_runs(berthd: Daemon) -> None:
    res = old(berthd, "version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}}")
    assert res.stdout.decode().split() == ["1.41", "1.44"]
    res = old(berthd, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 6")
    assert (res.returncode, res.stdout, res.stderr) == (6, b"out\n", b"err\n")


def test_logs_and_exec_are_framed_without_tty(berthd: Daemon) -> None:
    assert old(berthd, "run", "--name", "old-cli", "busybox", "sh", "-c", "echo a; echo b >&2").returncode == 0
    try:
        res = old(berthd, "logs", "old-cli")
        assert (res.stdout, res.stderr) == (b"a\n", b"b\n")
    finally:
        old(berthd, "rm", "-f", "old-cli")
    cid = old(berthd, "run", "-d", "busybox", "sleep", "100").stdout.decode().strip()
    try:
        res = old(berthd, "exec", "-i", cid, "sh", "-c", "cat; echo e >&2", stdin=b"in\n")
        assert (res.stdout, res.stderr) == (b"in\n", b"e\n")
    finally:
        old(berthd, "rm", "-f", cid)
