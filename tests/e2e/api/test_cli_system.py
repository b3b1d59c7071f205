"""The real docker CLI and the Docker SDK against the system routes served by Berth's HTTP stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import docker
import pytest

from berth.api.routes import refused, system
from tests.unit.api.harness import LoopThread, StubSystem, running_api

pytestmark = pytest.mark.e2e
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


@pytest.fixture(scope="module")
def api_socket() -> Iterator[tuple[str, StubSystem, LoopThread]]:
    backend = StubSystem()
    with running_api([system.routes(backend), refused.routes()]) as (path, lt):
        yield path, backend, lt


def _docker(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=f"unix://{path}", DOCKER_CONFIG=os.path.join(os.path.dirname(path), "cfg"))
    return subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_docker_version_negotiates_1_44(api_socket: tuple[str, StubSystem, LoopThread]) -> None:
    r = _docker(api_socket[0], "version")
    assert r.returncode == 0, r.stderr
    server = r.stdout.split("Server:", 1)[1]
    assert "API version:      1.44 (minimum version 1.40)" in server
    assert "API version:       1.44 (downgraded from" in r.stdout.split("Server:", 1)[0]


def test_docker_version_format_api_version(api_socket: tuple[str, StubSystem, LoopThread]) -> None:
    r = _docker(api_socket[0], "version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1.44", "1.44"]


def test_docker_info_shows_overlay2(api_socket: tuple[str, StubSystem, LoopThread]) -> None:
    r = _docker(api_socket[0], "info")
    assert r.returncode == 0, r.stderr
    assert "Storage Driver: overlay2" in r.stdout
    assert "Swarm: inactive" in r.stdout
    assert "Containers: 3" in r.stdout
    assert "ERROR" not in r.stdout


def test_docker_inspect_unknown_object_is_clean(api_socket: tuple[str, StubSystem, LoopThread]) -> None:
    r = _docker(api_socket[0], "inspect", "nothing-here")
    assert r.returncode == 1
    assert "No such object: nothing-here" in r.stderr


def test_docker_events_replays_a_past_window(api_socket: tuple[str, StubSystem, LoopThread]) -> None:
    path, backend, lt = api_socket
    lt.loop.call_soon_threadsafe(backend.events.publish, "container", "start", "c" * 64, {"name": "web"})
    until = str(int(time.time()) + 2)  # the CLI sends whole seconds: end the window after the event
    r = _docker(path, "events", "--since", "5m", "--until", until, "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}")
    assert r.returncode == 0, r.stderr
    assert f"container start {'c' * 64}" in r.stdout.splitlines()


def test_docker_sdk_ping_and_version(api_socket: tuple[str, StubSystem, LoopThread]) -> None:
    client = docker.DockerClient(base_url=f"unix://{api_socket[0]}", version="auto")
    try:
        assert client.ping() is True
        version = client.version()
        assert version["ApiVersion"] == "1.44"
        assert version["MinAPIVersion"] == "1.40"
        assert client.api.api_version == "1.44"
        assert client.info()["Driver"] == "overlay2"
    finally:
        client.close()
