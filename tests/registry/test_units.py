"""Unit tests of the registry's pieces: name/digest rules, token signing and checking, scopes, storage."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from berth.registry.auth import Access, TokenAuth, parse_scopes
from berth.registry.errors import RegistryError
from berth.registry.names import check_digest, check_name, is_tag
from berth.registry.storage import ManifestRecord, RegistryStore


@pytest.mark.parametrize("name", ["a", "library/busybox", "a.b/c_d/e__f/g-h/i--j", "0/1", "x" * 255])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "a/../b", "..", "a/./b", "/a", "a/", "a//b", "a%2fb", "-a", "a-",
                                  "a___b", "a..b", "x" * 256, "a\x00b", "a b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(RegistryError) as exc:
        check_name(name)
    assert (exc.value.code, exc.value.status) == ("NAME_INVALID", 400)


def test_digests_and_tags() -> None:
    assert check_digest("sha256:" + "a" * 64)
    assert check_digest("sha512:" + "b" * 128)
    for bad in ("sha256:" + "a" * 63, "sha512:" + "a" * 64, "sha384:" + "a" * 96, "sha256:" + "A" * 64, "x"):
        with pytest.raises(RegistryError):
            check_digest(bad)
    assert is_tag("v1.0_rc-1")
    assert not is_tag(".hidden")
    assert not is_tag("a" * 129)


def test_scopes() -> None:
    assert parse_scopes(["repository:a/b:pull,push", "registry:catalog:* repository:c:pull"]) == [
        Access("repository", "a/b", ("pull", "push")), Access("registry", "catalog", ("*",)),
        Access("repository", "c", ("pull",))]
    assert parse_scopes(["repository:host:5000/x:pull"]) == [Access("repository", "host:5000/x", ("pull",))]


def test_tokens() -> None:
    auth = TokenAuth(None, "http://r/token", "svc", "iss", key=b"k" * 32)
    token = auth.issue("alice", [Access("repository", "a", ("pull",))])["token"]
    need_pull = [Access("repository", "a", ("pull",))]
    assert auth.allowed(f"Bearer {token}", need_pull) == (True, "alice")
    assert auth.allowed(f"Bearer {token}", [Access("repository", "a", ("pull", "push"))])[0] is False
    other_key = TokenAuth(None, "http://r/token", "svc", "iss", key=b"z" * 32)
    assert other_key.verify(token) is None
    other_service = TokenAuth(None, "http://r/token", "svc2", "iss", key=b"k" * 32)
    assert other_service.verify(token) is None
    expired = TokenAuth(None, "http://r/token", "svc", "iss", key=b"k" * 32, expires_in=-10)
    assert auth.verify(expired.issue("alice", need_pull)["token"]) is None
    assert auth.verify("a.b.c") is None
    assert auth.verify("garbage") is None
    header, claims, sig = token.split(".")
    none_alg = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    assert auth.verify(f"{none_alg}.{claims}.") is None
    assert auth.verify(f"{header}.{claims}.{sig[::-1]}") is None
    anonymous = auth.verify(auth.issue("", need_pull)["token"])
    assert anonymous is not None
    assert anonymous["access"] == []
    assert 'scope="repository:a:pull"' in auth.challenge(need_pull)
    claims_ok = auth.verify(token)
    assert claims_ok is not None
    assert time.time() < claims_ok["exp"]


def test_storage_links_and_tags(tmp_path: Path) -> None:
    store = RegistryStore(str(tmp_path))
    data = b"manifest"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    store.ingest_bytes(data, digest)
    store.put_manifest("r", ManifestRecord(digest, "application/x", len(data)), ["t1", "t2"])
    assert store.tags("r") == ["t1", "t2"]
    assert store.has_blob("r", digest)
    assert not store.has_blob("s", digest)
    assert store.delete_manifest("r", digest)
    assert store.tags("r") == []
    store.close()
    reopened = RegistryStore(str(tmp_path))
    assert reopened.repositories() == []
    reopened.close()
