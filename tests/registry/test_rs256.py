"""RS256 tokens: our RSA code agrees with openssl, and distribution 2.8 accepts tokens from our token endpoint."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from berth.registry.auth import Access, Htpasswd, TokenAuth
from berth.registry.rsa import libtrust_key_id, load_private_key, spki_of_certificate
from tests.registry.conftest import Server
from tests.registry.ocidir import make_oci_dir, random_layer
from tests.registry.peers import docker_registry, have_docker_registry

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@pytest.fixture
def rsa_files(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "token.key", tmp_path / "token.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=berth-token"], check=True, capture_output=True)
    return key, cert


def test_rsa_matches_openssl(rsa_files: tuple[Path, Path], tmp_path: Path) -> None:
    key_path, cert_path = rsa_files
    key = load_private_key(key_path.read_text())
    assert spki_of_certificate(cert_path.read_text()) == key.public_der()
    message = tmp_path / "msg"
    message.write_bytes(b"header.claims")
    theirs = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key_path), str(message)],
                            check=True, capture_output=True).stdout
    assert key.sign(b"header.claims") == theirs  # PKCS#1 v1.5 is deterministic
    assert key.verify(b"header.claims", theirs)
    assert not key.verify(b"header.claimz", theirs)
    kid = libtrust_key_id(key.public_der())
    assert len(kid.split(":")) == 12
    assert all(len(group) == 4 for group in kid.split(":"))


def test_rs256_tokens(rsa_files: tuple[Path, Path]) -> None:
    key_path, cert_path = rsa_files
    auth = TokenAuth.from_key_file(None, "http://r/token", "svc", "iss", str(key_path), str(cert_path))
    token = auth.issue("alice", [Access("repository", "a", ("pull",))])["token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "RS256"
    assert header["kid"] == auth.kid
    assert auth.allowed(f"Bearer {token}", [Access("repository", "a", ("pull",))]) == (True, "alice")
    hs = TokenAuth(None, "http://r/token", "svc", "iss")
    assert hs.verify(token) is None  # no algorithm confusion
    other = TokenAuth(None, "http://r/token", "svc", "iss", key=b"k" * 32)
    assert auth.verify(other.issue("alice", [])["token"]) is None


def test_token_cert_must_match_key(rsa_files: tuple[Path, Path], tmp_path: Path) -> None:
    key_path, _ = rsa_files
    other_key, other_cert = tmp_path / "o.key", tmp_path / "o.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(other_key), "-out",
                    str(other_cert), "-days", "2", "-subj", "/CN=other"], check=True, capture_output=True)
    with pytest.raises(ValueError, match="does not hold the public key"):
        TokenAuth.from_key_file(None, "r", "s", "i", str(key_path), str(other_cert))


@pytest.mark.skipif(shutil.which("htpasswd") is None or shutil.which("skopeo") is None,
                    reason="needs htpasswd and skopeo")
def test_distribution_trusts_our_token_endpoint(start_registry: Callable[..., Server], rsa_files: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    if not have_docker_registry():
        pytest.skip("docker-registry (distribution) not installed")
    key_path, cert_path = rsa_files
    users = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(users), "alice", "wonderland"], check=True, capture_output=True)
    ours = start_registry(auth=lambda url: TokenAuth.from_key_file(
        Htpasswd(str(users)), f"{url}/token", "peer-registry", "berth-issuer", str(key_path), str(cert_path)))
    auth_yaml = ("auth:\n  token:\n"
                 f"    realm: {ours.url}/token\n    service: peer-registry\n    issuer: berth-issuer\n"
                 f"    rootcertbundle: {cert_path}\n")
    with docker_registry(tmp_path / "distribution", auth_yaml, ready_status=401) as peer:
        authfile = tmp_path / "auth.json"
        base = ["skopeo", "login", "--tls-verify=false", "--authfile", str(authfile), peer]
        bad = subprocess.run([*base, "-u", "alice", "-p", "nope"], capture_output=True, text=True, timeout=60)
        assert bad.returncode != 0
        ok = subprocess.run([*base, "-u", "alice", "-p", "wonderland"], capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0, ok.stderr
        image = tmp_path / "image"
        make_oci_dir(str(image), "v1", [random_layer({"f": b"through a peer"})])
        copy = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--authfile", str(authfile),
                               f"oci:{image}:v1", f"docker://{peer}/team/app:v1"],
                              capture_output=True, text=True, timeout=120)
        assert copy.returncode == 0, copy.stderr
