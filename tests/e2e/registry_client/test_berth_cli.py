"""berth push/pull/login/logout against Debian's docker-registry on loopback, through berthd."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.daemon_harness import Daemon, ok
from tests.e2e.registry_client.registries import Registry

pytestmark = pytest.mark.e2e


def _repo(registry: Registry) -> str:
    return f"{registry.host}/t{uuid.uuid4().hex[:8]}"


def _commit(berthd: Daemon, ref: str, text: str) -> None:
    """An image of two layers: busybox's and one with /hello."""
    name = f"c{uuid.uuid4().hex[:8]}"
    ok(berthd.berth("run", "--name", name, "busybox", "sh", "-c", f"echo {text} > /hello"))
    ok(berthd.berth("commit", name, ref))
    ok(berthd.berth("rm", name))


def test_push_rmi_pull_run(berthd: Daemon, registry: Registry) -> None:
    repo = _repo(registry)
    _commit(berthd, f"{repo}:1", "pulled-ok")
    out = ok(berthd.berth("push", f"{repo}:1"))
    assert f"The push refers to repository [{repo}]" in out
    assert ": Pushed" in out
    pushed = [line for line in out.splitlines() if line.startswith("1: digest: sha256:")]
    assert pushed, out
    digest = pushed[0].split()[2]
    ok(berthd.berth("rmi", f"{repo}:1"))
    out = ok(berthd.berth("pull", f"{repo}:1"))
    assert f"1: Pulling from {repo.split('/', 1)[1]}" in out
    assert out.count("Pull complete") == 1
    assert out.count("Already exists") == 1
    assert f"Digest: {digest}" in out
    assert f"Status: Downloaded newer image for {repo}:1" in out
    assert out.rstrip().endswith(f"{repo}:1")
    assert ok(berthd.berth("run", "--rm", f"{repo}:1", "cat", "/hello")).strip() == "pulled-ok"
    inspect = json.loads(ok(berthd.berth("image", "inspect", f"{repo}:1")))[0]
    assert f"{repo}@{digest}" in inspect["RepoDigests"]
    assert digest in ok(berthd.berth("images", "--digests", repo))
    out = ok(berthd.berth("pull", f"{repo}:1"))
    assert "Already exists" in out
    assert f"Status: Image is up to date for {repo}:1" in out
    again = ok(berthd.berth("push", f"{repo}:1"))
    assert "Layer already exists" in again
    assert f"1: digest: {digest}" in again


def test_shared_layers_already_exist_and_pull_by_digest(berthd: Daemon, registry: Registry) -> None:
    repo = _repo(registry)
    _commit(berthd, f"{repo}:two", "layer2")
    ok(berthd.berth("tag", "busybox", f"{repo}:base"))
    out = ok(berthd.berth("push", "-a", repo))
    digests = {line.split(":")[0]: line.split()[2] for line in out.splitlines() if ": digest: " in line}
    assert set(digests) == {"base", "two"}, out
    ok(berthd.berth("rmi", f"{repo}:two"))
    out = ok(berthd.berth("pull", f"{repo}:two"))
    assert out.count("Already exists") == 1, out
    assert out.count("Pull complete") == 1, out
    assert ok(berthd.berth("run", "--rm", f"{repo}:two", "cat", "/hello")).strip() == "layer2"
    ok(berthd.berth("rmi", f"{repo}:two"))
    by_digest = f"{repo}@{digests['two']}"
    out = ok(berthd.berth("pull", by_digest))
    assert f"Status: Downloaded newer image for {by_digest}" in out
    assert ok(berthd.berth("run", "--rm", by_digest, "cat", "/hello")).strip() == "layer2"


def test_pull_all_tags(berthd: Daemon, registry: Registry) -> None:
    repo = _repo(registry)
    for tag in ("a", "b"):
        ok(berthd.berth("tag", "busybox", f"{repo}:{tag}"))
        ok(berthd.berth("push", "-q", f"{repo}:{tag}"))
        ok(berthd.berth("rmi", f"{repo}:{tag}"))
    out = ok(berthd.berth("pull", "-a", repo))
    assert "a: Pulling from" in out
    assert "b: Pulling from" in out
    assert f"Status: Downloaded newer image for {repo}" in out
    refs = ok(berthd.berth("images", "--format", "{{.Repository}}:{{.Tag}}")).split()
    assert sorted(r for r in refs if r.startswith(repo + ":")) == [f"{repo}:a", f"{repo}:b"]


def test_pull_quiet_and_missing(berthd: Daemon, registry: Registry) -> None:
    repo = _repo(registry)
    res = berthd.berth("pull", f"{repo}:nope")
    assert res.returncode == 1
    assert f"manifest for {repo}:nope not found: manifest unknown" in res.stderr.decode()
    res = berthd.berth("pull", "-q", "127.0.0.1:1/none:1")
    assert res.returncode == 1
    assert "connection refused" in res.stderr.decode()


def test_login_logout_and_authenticated_push_pull(berthd: Daemon, auth_registry: Registry) -> None:
    repo = f"{auth_registry.host}/private"
    config = os.path.join(berthd.env()["DOCKER_CONFIG"], "config.json")
    bad = berthd.berth("login", "-u", "alice", "--password-stdin", auth_registry.host, input=b"wrong\n")
    assert bad.returncode == 1
    assert "401 Unauthorized" in bad.stderr.decode()
    _commit(berthd, f"{repo}:1", "private")
    denied = berthd.berth("push", f"{repo}:1")
    assert denied.returncode == 1
    out = ok(berthd.berth("login", "-u", "alice", "--password-stdin", auth_registry.host, input=b"s3cret-pw\n"))
    assert "Login Succeeded" in out
    with open(config) as f:
        assert auth_registry.host in json.load(f)["auths"]
    assert ": Pushed" in ok(berthd.berth("push", f"{repo}:1"))
    ok(berthd.berth("rmi", f"{repo}:1"))
    assert "Pull complete" in ok(berthd.berth("pull", f"{repo}:1"))
    assert ok(berthd.berth("run", "--rm", f"{repo}:1", "cat", "/hello")).strip() == "private"
    assert f"Removing login credentials for {auth_registry.host}" in ok(berthd.berth("logout", auth_registry.host))
    with open(config) as f:
        assert auth_registry.host not in json.load(f)["auths"]
    ok(berthd.berth("rmi", f"{repo}:1"))
    assert berthd.berth("pull", f"{repo}:1").returncode == 1


def test_cross_repository_mount(berthd: Daemon, registry: Registry) -> None:
    first, second = _repo(registry), _repo(registry)
    _commit(berthd, f"{first}:1", "mounted")
    ok(berthd.berth("push", f"{first}:1"))
    ok(berthd.berth("tag", f"{first}:1", f"{second}:1"))
    out = ok(berthd.berth("push", f"{second}:1"))
    assert out.count(f"Mounted from {first.split('/', 1)[1]}") == 2, out


def test_run_pulls_a_missing_image(berthd: Daemon, registry: Registry) -> None:
    repo = _repo(registry)
    _commit(berthd, f"{repo}:1", "run-pulled")
    ok(berthd.berth("push", "-q", f"{repo}:1"))
    ok(berthd.berth("rmi", f"{repo}:1"))
    res = berthd.berth("run", "--rm", f"{repo}:1", "cat", "/hello")
    assert ok(res).strip() == "run-pulled"
    assert f"Unable to find image '{repo}:1' locally" in res.stderr.decode()
    assert "Pull complete" in res.stderr.decode()
