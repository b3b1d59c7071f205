"""Bearer tokens against docker-registry's own token mode (RS256 JWT, x5c), from berth and from docker."""

from __future__ import annotations

import uuid

import pytest

from tests.daemon_harness import Daemon, ok
from tests.e2e.registry_client.registries import Registry
from tests.e2e.registry_client.token_server import TokenServer

pytestmark = pytest.mark.e2e


def test_token_auth_login_push_pull(berthd: Daemon, token_registry: tuple[Registry, TokenServer]) -> None:
    reg, ts = token_registry
    repo = f"{reg.host}/tok{uuid.uuid4().hex[:6]}"
    name = f"c{uuid.uuid4().hex[:8]}"
    ok(berthd.berth("run", "--name", name, "busybox", "sh", "-c", "echo token > /hello"))
    ok(berthd.berth("commit", name, f"{repo}:1"))
    ok(berthd.berth("rm", name))
    anonymous = berthd.berth("push", f"{repo}:1")
    assert anonymous.returncode == 1
    bad = berthd.docker("login", "-u", "carol", "--password-stdin", reg.host, input=b"nope\n")
    assert bad.returncode == 1
    assert "401 Unauthorized" in bad.stderr.decode()
    ok(berthd.berth("login", "-u", "carol", "--password-stdin", reg.host, input=b"t0ken-pw\n"))
    try:
        assert ": Pushed" in ok(berthd.berth("push", f"{repo}:1"))
        assert any("scope=repository" in r and "push" in r for r in ts.requests)
        ok(berthd.berth("rmi", f"{repo}:1"))
        assert "Pull complete" in ok(berthd.docker("pull", f"{repo}:1"))
        assert ok(berthd.docker("run", "--rm", f"{repo}:1", "cat", "/hello")).strip() == "token"
    finally:
        ok(berthd.berth("logout", reg.host))
