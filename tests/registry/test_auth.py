"""Registry auth over loopback: htpasswd basic auth (bcrypt from `htpasswd -B`) and bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from berth.registry.auth import BasicAuth, Htpasswd, TokenAuth
from tests.registry.conftest import Server
from tests.registry.helpers import outcome, push_blob, sha

needs_htpasswd = pytest.mark.skipif(shutil.which("htpasswd") is None, reason="apache2-utils not installed")


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    if shutil.which("htpasswd"):
        subprocess.run(["htpasswd", "-Bbc", str(path), "alice", "wonderland"], check=True, capture_output=True)
    else:  # `{SHA}` entries need no tool
        path.write_text("alice:{SHA}" + base64.b64encode(hashlib.sha1(b"wonderland").digest())
                        .decode() + "\n")
    return path


@needs_htpasswd
def test_htpasswd_bcrypt_entries(htpasswd: Path) -> None:
    users = Htpasswd(str(htpasswd))
    assert users.users["alice"].startswith("$2y$")
    assert users.check("alice", "wonderland")
    assert users.check("alice", "wonderland")  # second time from the memo
    assert not users.check("alice", "wrong")
    assert not users.check("bob", "wonderland")


def test_basic_auth(start_registry: Callable[..., Server], htpasswd: Path) -> None:
    server = start_registry(auth=BasicAuth(Htpasswd(str(htpasswd))))
    with server.client() as anon:
        r = anon.get("/v2/")
        assert outcome(r) == (401, ["UNAUTHORIZED"])
        assert r.headers["WWW-Authenticate"].startswith('Basic realm="')
        assert anon.get("/v2/", auth=("alice", "nope")).status_code == 401
    with server.client(auth=("alice", "wonderland")) as c:
        assert c.get("/v2/").status_code == 200
        digest = push_blob(c, "private", b"data")
        assert c.get(f"/v2/private/blobs/{digest}").content == b"data"


def _token_auth(htpasswd: Path) -> Callable[[str], TokenAuth]:
    return lambda url: TokenAuth(Htpasswd(str(htpasswd)), f"{url}/token", "test-registry", "test-issuer")


def test_token_flow(start_registry: Callable[..., Server], htpasswd: Path) -> None:
    server = start_registry(auth=_token_auth(htpasswd))
    with server.client() as c:
        r = c.get("/v2/private/tags/list")
        assert outcome(r) == (401, ["UNAUTHORIZED"])
        assert r.headers["WWW-Authenticate"] == (
            f'Bearer realm="{server.url}/token",service="test-registry",scope="repository:private:pull"')
        r = c.post("/v2/private/blobs/uploads/")
        assert 'scope="repository:private:pull,push"' in r.headers["WWW-Authenticate"]
        params = {"service": "test-registry", "scope": "repository:private:pull,push"}
        assert c.get("/token", params=params, auth=("alice", "bad")).status_code == 401
        token = c.get("/token", params=params, auth=("alice", "wonderland")).json()
        assert token["token"] == token["access_token"]
        assert token["expires_in"] > 0
        claims = json.loads(base64.urlsafe_b64decode(token["token"].split(".")[1] + "=="))
        assert claims["access"] == [{"type": "repository", "name": "private", "actions": ["pull", "push"]}]
        bearer = {"Authorization": f"Bearer {token['token']}"}
        data = b"token-protected"
        r = c.post("/v2/private/blobs/uploads/", params={"digest": sha(data)}, content=data, headers=bearer)
        assert r.status_code == 201
        assert c.get(f"/v2/private/blobs/{sha(data)}", headers=bearer).content == data
        other = c.get("/v2/other/tags/list", headers=bearer)  # the token is for "private" only
        assert other.status_code == 401
        assert 'error="insufficient_scope"' in other.headers["WWW-Authenticate"]
        forged = token["token"][:-4] + ("AAAA" if not token["token"].endswith("AAAA") else "BBBB")
        assert c.get("/v2/", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_anonymous_token_grants_nothing(start_registry: Callable[..., Server], htpasswd: Path) -> None:
    server = start_registry(auth=_token_auth(htpasswd))
    with server.client() as c:
        token = c.get("/token", params={"service": "test-registry", "scope": "repository:x:pull"}).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert c.get("/v2/", headers=bearer).status_code == 200  # a valid token: the ping passes
        assert c.get("/v2/x/tags/list", headers=bearer).status_code == 401


def test_token_password_grant(start_registry: Callable[..., Server], htpasswd: Path) -> None:
    server = start_registry(auth=_token_auth(htpasswd))
    with server.client() as c:
        form = {"grant_type": "password", "username": "alice", "password": "wonderland",
                "service": "test-registry", "scope": "repository:y:pull", "client_id": "docker"}
        r = c.post("/token", data=form)
        assert r.status_code == 200
        r = c.get("/v2/y/tags/list", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        assert outcome(r) == (404, ["NAME_UNKNOWN"])


@needs_htpasswd
@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
@pytest.mark.parametrize("mode", ["basic", "token"])
def test_skopeo_login(start_registry: Callable[..., Server], htpasswd: Path, tmp_path: Path, mode: str) -> None:
    auth = BasicAuth(Htpasswd(str(htpasswd))) if mode == "basic" else _token_auth(htpasswd)
    server = start_registry(auth=auth)
    authfile = tmp_path / "auth.json"
    base = ["skopeo", "login", "--tls-verify=false", "--authfile", str(authfile), server.host]
    bad = subprocess.run([*base, "-u", "alice", "-p", "wrong"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0
    ok = subprocess.run([*base, "-u", "alice", "-p", "wonderland"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "Login Succeeded" in ok.stdout
