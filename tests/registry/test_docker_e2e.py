"""The real docker CLI and the docker SDK, through berthd, log in to, push to and pull from Berth's registry."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from berth.registry.auth import BasicAuth, Htpasswd, TokenAuth
from tests.daemon_harness import Daemon, ok, running_daemon
from tests.registry.conftest import Server
from tests.rootfs import busybox_tar_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def berthd() -> Iterator[Daemon]:
    with tempfile.TemporaryDirectory() as tmp:
        tar = busybox_tar_bytes(tmp)
    with running_daemon() as d:
        d.import_busybox(tar)
        yield d


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    if shutil.which("htpasswd"):
        subprocess.run(["htpasswd", "-cbB", str(path), "dave", "d4ve-pw"], check=True, capture_output=True)
    else:
        path.write_text("dave:{SHA}" + base64.b64encode(hashlib.sha1(b"d4ve-pw").digest()).decode() + "\n")
    return path


def _commit_image(d: Daemon, ref: str, text: str) -> None:
    name = f"c{uuid.uuid4().hex[:8]}"
    ok(d.docker("run", "--name", name, "busybox", "sh", "-c", f"echo {text} > /hello"))
    ok(d.docker("commit", name, ref))
    ok(d.docker("rm", name))


def _push_pull_run(d: Daemon, host: str, text: str) -> None:
    repo = f"{host}/e2e/{text}"
    _commit_image(d, f"{repo}:v1", text)
    out = ok(d.docker("push", f"{repo}:v1"))
    assert "v1: digest: sha256:" in out
    ok(d.docker("rmi", f"{repo}:v1"))
    ok(d.docker("pull", f"{repo}:v1"))
    assert ok(d.docker("run", "--rm", f"{repo}:v1", "cat", "/hello")).strip() == text
    missing = d.docker("pull", f"{repo}:nope")
    assert missing.returncode == 1
    assert "manifest unknown" in missing.stderr.decode()


def test_docker_push_pull_without_auth(berthd: Daemon, start_registry: Callable[..., Server]) -> None:
    _push_pull_run(berthd, start_registry().host, "plain")


@pytest.mark.parametrize("token", [False, True], ids=["basic", "token"])
def test_docker_login_push_pull(berthd: Daemon, start_registry: Callable[..., Server], htpasswd: Path,
                                token: bool) -> None:
    users = Htpasswd(str(htpasswd))
    auth: object = ((lambda url: TokenAuth(users, f"{url}/token", "e2e-registry", "e2e-issuer"))
                    if token else BasicAuth(users))
    server = start_registry(auth=auth)
    bad = berthd.docker("login", "-u", "dave", "--password-stdin", server.host, input=b"wrong\n")
    assert bad.returncode == 1
    login = berthd.docker("login", "-u", "dave", "--password-stdin", server.host, input=b"d4ve-pw\n")
    assert "Login Succeeded" in ok(login)
    text = "token" if token else "basic"
    try:
        _push_pull_run(berthd, server.host, text)
    finally:
        ok(berthd.docker("logout", server.host))
    denied = berthd.docker("pull", f"{server.host}/e2e/{text}:v1")
    assert denied.returncode == 1


def test_sdk_push_and_pull(berthd: Daemon, start_registry: Callable[..., Server]) -> None:
    server = start_registry()
    repo = f"{server.host}/sdk/hello"
    _commit_image(berthd, f"{repo}:v2", "sdk")
    client = docker.DockerClient(base_url=berthd.host, version="1.44")
    try:
        lines = list(client.images.push(repo, tag="v2", stream=True, decode=True))
        pushed = [line["aux"]["Digest"] for line in lines if "aux" in line]
        assert len(pushed) == 1
        assert pushed[0].startswith("sha256:")
        client.images.remove(f"{repo}:v2")
        image = client.images.pull(repo, tag="v2")
        assert f"{repo}@{pushed[0]}" in image.attrs["RepoDigests"]
        assert client.containers.run(f"{repo}:v2", ["cat", "/hello"], remove=True).strip() == b"sdk"
    finally:
        client.close()
