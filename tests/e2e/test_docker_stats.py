"""`docker stats` and the SDK's stats against berthd: usage read from the container's cgroup."""

from __future__ import annotations

import itertools
import json

import docker
import pytest

from tests.daemon_harness import Daemon, ok

pytestmark = pytest.mark.e2e


def test_docker_stats_shows_the_containers_usage_and_limits(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "busy", "-m", "64m", "--pids-limit", "40", "busybox", "sh", "-c",
                     "yes > /dev/null & sleep 1000"))
    try:
        row = ok(berthd.docker("stats", "--no-stream", "--format", "{{json .}}", "busy"))
        doc = json.loads(row)
        assert doc["Name"] == "busy"
        assert doc["MemUsage"].endswith(" / 64MiB")
        assert int(doc["PIDs"]) >= 2  # yes and sleep (and sh, unless it execs sleep)
        assert float(doc["CPUPerc"].rstrip("%")) > 20  # `yes` keeps a CPU busy
    finally:
        berthd.docker("rm", "-f", "busy")


def test_sdk_stats_stream_and_one_shot(berthd: Daemon) -> None:
    client = docker.DockerClient(base_url=berthd.host)
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="watched")
    try:
        first, second = itertools.islice(c.stats(stream=True, decode=True), 2)
        assert second["precpu_stats"] == first["cpu_stats"]
        assert second["preread"] == first["read"]
        assert second["pids_stats"]["current"] == 1
        assert second["memory_stats"]["usage"] > 0
        once = c.stats(stream=False, one_shot=True)
        assert once["name"] == "/watched"
        assert once["cpu_stats"]["online_cpus"] >= 1
        c.kill()
        c.wait()
        stopped = c.stats(stream=False)
        assert (stopped["read"], stopped["memory_stats"]) == ("0001-01-01T00:00:00Z", {})
    finally:
        c.remove(force=True)
        client.close()
