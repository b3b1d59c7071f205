"""Distribution 2.8 (Debian's `docker-registry`) as a reference peer for the interop tests and the bench."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

DOCKER_REGISTRY = "/usr/bin/docker-registry"

__all__ = ["DOCKER_REGISTRY", "docker_registry", "free_port", "have_docker_registry"]


def have_docker_registry() -> bool:
    return shutil.which(DOCKER_REGISTRY) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def docker_registry(workdir: Path, extra_config: str = "", ready_status: int = 200) -> Iterator[str]:
    """A distribution registry with filesystem storage under `workdir`; yields `127.0.0.1:PORT`.

    `extra_config` is appended to its YAML (an `auth:` section, say); `ready_status` is what `/v2/` answers then.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + extra_config
    )
    log = open(workdir / "registry.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([DOCKER_REGISTRY, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code == ready_status:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start: {(workdir / 'registry.log').read_text()}")
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
