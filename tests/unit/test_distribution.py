"""berth.distribution without a network: challenges, tokens, manifests, platforms, endpoints, verified fetches."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from berth import errdefs
from berth.daemon.images.authconfig import credentials, decode_header
from berth.distribution import manifests
from berth.distribution.auth import Credentials, parse_challenge
from berth.distribution.client import MAX_MANIFEST, RegistryClient
from berth.distribution.endpoints import HUB_API, base_urls, is_insecure
from berth.distribution.errors import RegistryError, from_response
from berth.distribution.fetch import fetch_blob
from berth.oci import digest as dg
from berth.store.content import ContentStore


def test_parse_challenge() -> None:
    ch = parse_challenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"')
    assert ch is not None
    assert ch.scheme == "bearer"
    assert ch.params == {"realm": "https://auth.example/token", "service": "reg", "scope": "repository:a/b:pull,push"}
    basic = parse_challenge('Basic realm="x"')
    assert basic is not None
    assert basic.scheme == "basic"
    assert parse_challenge("") is None


def test_error_text_is_errcode_style() -> None:
    err = from_response(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
    assert str(err) == "manifest unknown: manifest unknown"
    assert err.code == "MANIFEST_UNKNOWN"
    assert from_response(401, b"").code == "UNAUTHORIZED"


def _bearer_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.url.path == "/token":
            want = "Basic " + base64.b64encode(b"u:p").decode()
            if req.headers.get("authorization") != want:
                return httpx.Response(401, json={"errors": [{"code": "UNAUTHORIZED", "message": "bad creds"}]})
            assert req.url.params.get_list("scope") == ["repository:lib/x:pull"]
            return httpx.Response(200, json={"token": "T1", "expires_in": 300})
        if req.headers.get("authorization") != "Bearer T1":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="http://r/token",service="s"'})
        return httpx.Response(200, content=b"{}", headers={"Content-Type": "application/json"})
    return httpx.MockTransport(handle)


def test_bearer_flow_fetches_a_token_once_per_scope() -> None:
    seen: list[httpx.Request] = []
    with RegistryClient("http://r", Credentials("u", "p"), transport=_bearer_transport(seen)) as client:
        assert client.has_blob("lib/x", "sha256:" + "0" * 64)
        assert client.has_blob("lib/x", "sha256:" + "1" * 64)
    tokens = [r for r in seen if r.url.path == "/token"]
    assert len(tokens) == 1
    assert tokens[0].url.params["service"] == "s"


def test_bearer_with_bad_credentials_reports_the_token_server() -> None:
    with RegistryClient("http://r", Credentials("u", "wrong"), transport=_bearer_transport([])) as client, \
            pytest.raises(RegistryError, match="bad creds"):
        client.has_blob("lib/x", "sha256:" + "0" * 64)


def test_manifest_by_digest_is_verified_and_size_limited() -> None:
    body = b'{"schemaVersion":2}'

    def handle(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/big"):
            return httpx.Response(200, content=b" " * (MAX_MANIFEST + 1))
        return httpx.Response(200, content=body, headers={"Content-Type": manifests.mt.OCI_MANIFEST})

    with RegistryClient("http://r", transport=httpx.MockTransport(handle)) as client:
        assert client.get_manifest("a", dg.sha256(body)).digest == dg.sha256(body)
        with pytest.raises(RegistryError, match="manifest verification failed"):
            client.get_manifest("a", "sha256:" + "2" * 64)
        with pytest.raises(RegistryError, match="too large"):
            client.get_manifest("a", "big")


def test_fetch_blob_commits_only_verified_content(tmp_path: Path) -> None:
    data = b"layer bytes" * 1000
    good = dg.sha256(data)
    store = ContentStore(str(tmp_path / "content"))

    def handle(req: httpx.Request) -> httpx.Response:
        body = data if good in req.url.path else data[:-1] + b"!"
        return httpx.Response(200, stream=httpx.ByteStream(body), headers={"Content-Length": str(len(body))})

    with RegistryClient("http://r", transport=httpx.MockTransport(handle)) as client:
        assert fetch_blob(client, "a", good, len(data), store).digest == good
        bad = "sha256:" + "3" * 64
        with pytest.raises(errdefs.InvalidParameter, match="verification failed"):
            fetch_blob(client, "a", bad, len(data), store)
        with pytest.raises(errdefs.InvalidParameter):
            fetch_blob(client, "a", good, len(data) - 1, store)
    assert store.has(good)
    assert not store.has(bad)
    assert not list((tmp_path / "content" / "ingest").iterdir())


def test_platform_choice() -> None:
    index = {"manifests": [
        {"mediaType": manifests.mt.OCI_MANIFEST, "digest": "sha256:a",
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": manifests.mt.OCI_MANIFEST, "digest": "sha256:b",
         "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"mediaType": manifests.mt.OCI_MANIFEST, "digest": "sha256:c",
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]}
    assert manifests.choose(index, manifests.parse_platform("linux/amd64"))["digest"] == "sha256:a"
    assert manifests.choose(index, manifests.parse_platform("linux/arm/v7"))["digest"] == "sha256:b"
    assert manifests.choose(index, manifests.parse_platform("linux/arm64"))["digest"] == "sha256:c"
    with pytest.raises(errdefs.NotFound, match="no matching manifest for linux/s390x"):
        manifests.choose(index, manifests.parse_platform("linux/s390x"))
    assert str(manifests.parse_platform("linux/x86_64")) == "linux/amd64"


def test_schema1_and_unknown_layers_are_refused() -> None:
    with pytest.raises(errdefs.InvalidParameter, match="schema 1"):
        manifests.parse(json.dumps({"schemaVersion": 1}).encode(), manifests.mt.DOCKER_SCHEMA1_SIGNED)
    doc = {"config": {"digest": "sha256:" + "a" * 64, "mediaType": manifests.mt.DOCKER_CONFIG},
           "layers": [{"digest": "sha256:" + "b" * 64, "size": 1, "mediaType": "application/x-foo"}]}
    with pytest.raises(errdefs.InvalidParameter, match="unsupported layer media type"):
        manifests.image_manifest(doc)


def test_endpoints() -> None:
    assert is_insecure("127.0.0.1:5000")
    assert is_insecure("localhost:5000")
    assert not is_insecure("10.1.2.3:5000")
    assert is_insecure("10.1.2.3:5000", ["10.0.0.0/8"])
    assert is_insecure("reg.example:443", ["reg.example:443"])
    assert base_urls("127.0.0.1:5000") == ["https://127.0.0.1:5000", "http://127.0.0.1:5000"]
    assert base_urls("docker.io", mirrors=["http://m:1/"]) == ["http://m:1", HUB_API]
    assert base_urls("10.1.2.3:5000") == ["https://10.1.2.3:5000"]


def test_x_registry_auth() -> None:
    raw = base64.urlsafe_b64encode(json.dumps({"username": "a", "password": "b", "serveraddress": "r"}).encode())
    assert credentials(decode_header(raw.decode().rstrip("="))) == Credentials("a", "b")
    assert decode_header("e30=") == {}
    assert credentials({"auth": base64.b64encode(b"x:y:z").decode()}) == Credentials("x", "y:z")
    with pytest.raises(errdefs.InvalidParameter):
        decode_header("!!!")


def test_push_gzip_is_deterministic_and_schema2_is_docker_shaped() -> None:
    import io
    import tempfile

    from berth.daemon.images.push import _schema2
    from berth.store.gzipper import gzip_blob

    data = b"tar bytes " * 5000
    outs = [io.BytesIO(), io.BytesIO()]
    with tempfile.TemporaryFile() as src:
        src.write(data)
        results = []
        for out in outs:
            src.seek(0)
            results.append(gzip_blob(src, out))
    assert results[0] == results[1]
    assert results[0][0] == dg.sha256(outs[0].getvalue())
    layer = {"mediaType": manifests.mt.DOCKER_LAYER_GZIP, "size": results[0][1], "digest": results[0][0]}
    raw, media_type = _schema2("sha256:" + "c" * 64, 10, [layer])
    doc = json.loads(raw)
    assert media_type == doc["mediaType"] == manifests.mt.DOCKER_MANIFEST
    assert doc["config"]["mediaType"] == manifests.mt.DOCKER_CONFIG
    zstd = {**layer, "mediaType": manifests.mt.OCI_LAYER_ZSTD}
    assert _schema2("sha256:" + "c" * 64, 10, [layer, zstd])[1] == manifests.mt.OCI_MANIFEST


def test_upload_streams_a_patch_then_puts_the_digest() -> None:
    import io

    seen: list[tuple[str, str, bytes]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        seen.append((req.method, str(req.url), req.read()))
        if req.method == "POST":
            return httpx.Response(202, headers={"Location": "/v2/a/blobs/uploads/u1?_state=x"})
        if req.method == "PATCH":
            return httpx.Response(202, headers={"Location": "/v2/a/blobs/uploads/u1?_state=y"})
        return httpx.Response(201)

    data = b"blob" * 100
    sent: list[int] = []
    with RegistryClient("http://r", transport=httpx.MockTransport(handle)) as client:
        loc = client.start_upload("a")
        client.upload("a", loc, dg.sha256(data), len(data), io.BytesIO(data), sent.append)
    assert [m for m, _, _ in seen] == ["POST", "PATCH", "PUT"]
    assert seen[1][2] == data
    assert seen[2][1] == f"http://r/v2/a/blobs/uploads/u1?_state=y&digest={dg.sha256(data).replace(':', '%3A')}"
    assert sent[-1] == len(data)
