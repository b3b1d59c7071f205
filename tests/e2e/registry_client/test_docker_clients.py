"""The real docker CLI and the docker SDK pull, push and log in through berthd."""

from __future__ import annotations

import uuid

import docker
import pytest

from tests.daemon_harness import Daemon, ok
from tests.e2e.registry_client.registries import Registry

pytestmark = pytest.mark.e2e


def _unique_image(d: Daemon, ref: str, text: str) -> None:
    name = f"c{uuid.uuid4().hex[:8]}"
    ok(d.docker("run", "--name", name, "busybox", "sh", "-c", f"echo {text} > /hello"))
    ok(d.docker("commit", name, ref))
    ok(d.docker("rm", name))


def test_docker_cli_login_push_pull_run(berthd: Daemon, auth_registry: Registry) -> None:
    repo = f"{auth_registry.host}/cli{uuid.uuid4().hex[:6]}"
    bad = berthd.docker("login", "-u", "alice", "--password-stdin", auth_registry.host, input=b"bad\n")
    assert bad.returncode == 1
    assert "401 Unauthorized" in bad.stderr.decode()
    assert "Login Succeeded" in ok(
        berthd.docker("login", "-u", "alice", "--password-stdin", auth_registry.host, input=b"s3cret-pw\n"))
    try:
        _unique_image(berthd, f"{repo}:v1", "from-docker")
        out = ok(berthd.docker("push", f"{repo}:v1"))
        assert f"The push refers to repository [{repo}]" in out
        assert "v1: digest: sha256:" in out
        ok(berthd.docker("rmi", f"{repo}:v1"))
        out = ok(berthd.docker("pull", f"{repo}:v1"))
        assert "Pull complete" in out
        assert out.rstrip().endswith(f"{repo}:v1")
        assert ok(berthd.docker("run", "--rm", f"{repo}:v1", "cat", "/hello")).strip() == "from-docker"
        digests = ok(berthd.docker("images", "--digests", "--format", "{{.Digest}}", repo)).split()
        assert digests
        assert digests[0].startswith("sha256:")
        missing = berthd.docker("pull", f"{repo}:nope")
        assert missing.returncode == 1
        assert f"manifest for {repo}:nope not found: manifest unknown" in missing.stderr.decode()
    finally:
        ok(berthd.docker("logout", auth_registry.host))


def test_docker_sdk_login_push_pull(berthd: Daemon, auth_registry: Registry) -> None:
    repo = f"{auth_registry.host}/sdk{uuid.uuid4().hex[:6]}"
    client = docker.DockerClient(base_url=berthd.host, version="1.44")
    try:
        with pytest.raises(docker.errors.APIError) as err:
            client.login(username="alice", password="bad", registry=auth_registry.host, reauth=True)
        assert err.value.status_code == 401
        reply = client.login(username="alice", password="s3cret-pw", registry=auth_registry.host, reauth=True)
        assert reply["Status"] == "Login Succeeded"
        _unique_image(berthd, f"{repo}:v1", "from-sdk")
        auth = {"username": "alice", "password": "s3cret-pw"}
        lines = list(client.images.push(repo, tag="v1", auth_config=auth, stream=True, decode=True))
        aux = [line["aux"] for line in lines if "aux" in line]
        assert aux
        assert aux[0]["Tag"] == "v1"
        image_id = client.images.get(f"{repo}:v1").id
        client.images.remove(f"{repo}:v1")
        pulled = client.images.pull(repo, tag="v1", auth_config=auth)
        assert pulled.id == image_id
        assert f"{repo}@{aux[0]['Digest']}" in pulled.attrs["RepoDigests"]
    finally:
        client.close()
