"""Debian's docker-registry (distribution 2.8) on loopback for the registry client's tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

REGISTRY = shutil.which("docker-registry", path="/usr/bin:/usr/local/bin") or "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry:
    port: int
    root: str
    log: str
    proc: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def log_text(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()

    def blob_gets(self, digest: str) -> int:
        """How many GETs of this blob the registry answered with 200 (from its access log)."""
        return sum(1 for line in self.log_text().splitlines()
                   if '"GET /v2/' in line and f"/blobs/{digest} HTTP/1.1\" 200 " in line)


def _read(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


def _config(root: str, port: int, htpasswd: str | None, token: dict[str, str] | None = None) -> str:
    auth = ""
    if htpasswd:
        auth = f"auth:\n  htpasswd:\n    realm: berth-test\n    path: {htpasswd}\n"
    if token:
        auth = "auth:\n  token:\n" + "".join(f"    {k}: {v}\n" for k, v in token.items())
    return (
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}/data\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"{auth}"
    )


@contextlib.contextmanager
def running_registry(user: str | None = None, password: str | None = None,
                     token: dict[str, str] | None = None, root: str | None = None) -> Iterator[Registry]:
    """docker-registry on a free loopback port: open, htpasswd (`user`), or token auth (`token` settings)."""
    root = root or tempfile.mkdtemp(prefix="bt-reg-", dir="/tmp")
    proc = None
    try:
        htpasswd = None
        if user:
            line = subprocess.run(["htpasswd", "-Bbn", user, password or ""], check=True, capture_output=True).stdout
            htpasswd = os.path.join(root, "htpasswd")
            with open(htpasswd, "wb") as f:
                f.write(line.strip() + b"\n")
        port = free_port()
        cfg = os.path.join(root, "config.yml")
        with open(cfg, "w") as f:
            f.write(_config(root, port, htpasswd, token))
        log = os.path.join(root, "registry.log")
        with open(log, "wb") as out:
            proc = subprocess.Popen([REGISTRY, "serve", cfg], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError("docker-registry exited:\n" + _read(log))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code in (200, 401):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("docker-registry did not start:\n" + _read(log))
            time.sleep(0.05)
        yield Registry(port, root, log, proc)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
