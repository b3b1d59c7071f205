"""Blob pull and push endpoints over a real loopback socket: ranges, sessions, chunks, mounts, limits."""

from __future__ import annotations

import os
from collections.abc import Callable

import httpx

from tests.registry.conftest import Server
from tests.registry.helpers import errors, outcome, push_blob, sha


def test_base_endpoint_announces_registry_v2(client: httpx.Client) -> None:
    r = client.get("/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_monolithic_push_then_get_and_head(client: httpx.Client) -> None:
    data = os.urandom(300_000)
    digest = push_blob(client, "a/b", data)
    r = client.get(f"/v2/a/b/blobs/{digest}")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Docker-Content-Digest"] == digest
    assert r.headers["Content-Length"] == str(len(data))
    h = client.head(f"/v2/a/b/blobs/{digest}")
    assert h.status_code == 200
    assert h.headers["Content-Length"] == str(len(data))
    assert h.content == b""


def test_empty_blob(client: httpx.Client) -> None:
    digest = push_blob(client, "empty", b"")
    r = client.get(f"/v2/empty/blobs/{digest}")
    assert r.status_code == 200
    assert r.content == b""


def test_range_requests(client: httpx.Client) -> None:
    data = bytes(range(256)) * 10
    digest = push_blob(client, "ranges", data)
    url = f"/v2/ranges/blobs/{digest}"
    r = client.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206
    assert r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    r = client.get(url, headers={"Range": "bytes=-500"})
    assert r.status_code == 206
    assert r.content == data[-500:]
    r = client.get(url, headers={"Range": "bytes=2500-"})
    assert r.status_code == 206
    assert r.content == data[2500:]
    assert client.get(url, headers={"Range": "bytes=500-0"}).status_code == 416
    r = client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"


def test_unknown_blob_and_other_repository(client: httpx.Client) -> None:
    digest = push_blob(client, "one", b"payload")
    r = client.get(f"/v2/two/blobs/{digest}")
    assert r.status_code == 404
    assert errors(r) == ["BLOB_UNKNOWN"]
    assert client.head(f"/v2/one/blobs/{sha(b'other')}").status_code == 404


def test_malformed_digests(client: httpx.Client) -> None:
    for bad in ("sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64, "sha512:" + "0" * 64):
        r = client.get(f"/v2/x/blobs/{bad}")
        assert outcome(r) == (400, ["DIGEST_INVALID"]), bad
    r = client.post("/v2/x/blobs/uploads/", params={"digest": "sha256:nothex"}, content=b"x")
    assert r.status_code == 400
    assert errors(r) == ["DIGEST_INVALID"]


def test_monolithic_push_with_wrong_digest_is_refused(client: httpx.Client) -> None:
    r = client.post("/v2/w/blobs/uploads/", params={"digest": sha(b"expected")}, content=b"actual")
    assert r.status_code == 400
    assert errors(r) == ["DIGEST_INVALID"]
    assert client.head(f"/v2/w/blobs/{sha(b'actual')}").status_code == 404
    assert client.head(f"/v2/w/blobs/{sha(b'expected')}").status_code == 404


def test_sha512_blob(client: httpx.Client) -> None:
    data = b"sha512 content"
    digest = sha(data, "sha512")
    r = client.post("/v2/s/blobs/uploads/", params={"digest": digest}, content=data)
    assert r.status_code == 201, r.text
    r = client.get(f"/v2/s/blobs/{digest}")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Docker-Content-Digest"] == digest
    bad = client.post("/v2/s/blobs/uploads/", params={"digest": digest}, content=b"other")
    assert bad.status_code == 400
    assert errors(bad) == ["DIGEST_INVALID"]


def test_chunked_upload_with_out_of_order_chunk(client: httpx.Client) -> None:
    data = os.urandom(200_000)
    r = client.post("/v2/chunks/blobs/uploads/")
    assert r.status_code == 202
    location, uuid = r.headers["Location"], r.headers["Docker-Upload-UUID"]
    assert location.endswith(uuid)
    assert r.headers["Range"] == "0-0"
    first, second = data[:120_000], data[120_000:]
    r = client.patch(location, content=first, headers={"Content-Range": f"0-{len(first) - 1}"})
    assert r.status_code == 202
    assert r.headers["Range"] == f"0-{len(first) - 1}"
    skip = client.patch(location, content=second[10:], headers={"Content-Range": f"{len(first) + 10}-{len(data) - 1}"})
    assert skip.status_code == 416
    again = client.patch(location, content=first, headers={"Content-Range": f"0-{len(first) - 1}"})
    assert again.status_code == 416
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == f"0-{len(first) - 1}"
    r = client.patch(location, content=second,
                     headers={"Content-Range": f"{len(first)}-{len(data) - 1}"})
    assert r.status_code == 202
    r = client.put(location, params={"digest": sha(data)})
    assert r.status_code == 201
    assert r.headers["Docker-Content-Digest"] == sha(data)
    assert client.get(f"/v2/chunks/blobs/{sha(data)}").content == data


def test_streamed_patch_and_final_chunk_in_put(client: httpx.Client) -> None:
    data = os.urandom(50_000)
    location = client.post("/v2/stream/blobs/uploads/").headers["Location"]

    def body() -> object:
        yield data[:20_000]
        yield data[20_000:40_000]

    assert client.patch(location, content=body()).status_code == 202  # chunked transfer, no Content-Range
    r = client.put(location, params={"digest": sha(data)}, content=data[40_000:],
                   headers={"Content-Range": f"40000-{len(data) - 1}"})
    assert r.status_code == 201, r.text
    assert client.get(f"/v2/stream/blobs/{sha(data)}").content == data


def test_finish_with_wrong_or_missing_digest(client: httpx.Client) -> None:
    location = client.post("/v2/fin/blobs/uploads/").headers["Location"]
    client.patch(location, content=b"abc")
    r = client.put(location)
    assert r.status_code == 400
    assert errors(r) == ["DIGEST_INVALID"]
    r = client.put(location, params={"digest": sha(b"xyz")})
    assert r.status_code == 400
    assert errors(r) == ["DIGEST_INVALID"]
    assert client.head(f"/v2/fin/blobs/{sha(b'abc')}").status_code == 404


def test_unknown_upload_sessions(client: httpx.Client) -> None:
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        r = client.request(method, "/v2/u/blobs/uploads/0123456789abcdef", params={"digest": sha(b"")})
        assert outcome(r) == (404, ["BLOB_UPLOAD_UNKNOWN"]), method
    location = client.post("/v2/u/blobs/uploads/").headers["Location"]
    other = location.replace("/v2/u/", "/v2/v/")
    r = client.patch(other, content=b"x")
    assert r.status_code == 404
    assert errors(r) == ["BLOB_UPLOAD_UNKNOWN"]


def test_cancel_upload(client: httpx.Client) -> None:
    location = client.post("/v2/c/blobs/uploads/").headers["Location"]
    client.patch(location, content=b"partial")
    assert client.delete(location).status_code == 204
    r = client.put(location, params={"digest": sha(b"partial")})
    assert r.status_code == 404
    assert errors(r) == ["BLOB_UPLOAD_UNKNOWN"]


def test_oversized_uploads_are_refused(start_registry: Callable[..., Server]) -> None:
    server = start_registry(max_blob=1000)
    with server.client() as c:
        big = os.urandom(1500)
        r = c.post("/v2/big/blobs/uploads/", params={"digest": sha(big)}, content=big)
        assert r.status_code == 413
        assert errors(r) == ["SIZE_INVALID"]
        location = c.post("/v2/big/blobs/uploads/").headers["Location"]
        assert c.patch(location, content=big[:800]).status_code == 202
        r = c.patch(location, content=big[800:])
        assert r.status_code == 413
        r = c.put(location, params={"digest": sha(big)})
        assert r.status_code == 404
        assert errors(r) == ["BLOB_UPLOAD_UNKNOWN"]
        assert c.head(f"/v2/big/blobs/{sha(big)}").status_code == 404
        assert push_blob(c, "big", big[:1000])


def test_cross_repository_mount(client: httpx.Client) -> None:
    digest = push_blob(client, "src/repo", b"shared layer")
    r = client.post("/v2/dst/repo/blobs/uploads/", params={"mount": digest, "from": "src/repo"})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/dst/repo/blobs/{digest}"
    assert client.get(f"/v2/dst/repo/blobs/{digest}").content == b"shared layer"
    r = client.post("/v2/dst/other/blobs/uploads/", params={"mount": digest})  # mount without from
    assert r.status_code == 201
    missing = sha(b"never pushed")
    r = client.post("/v2/dst/repo/blobs/uploads/", params={"mount": missing, "from": "src/repo"})
    assert r.status_code == 202
    assert r.headers["Location"].startswith("/v2/dst/repo/blobs/uploads/")
    r = client.post("/v2/dst/third/blobs/uploads/", params={"mount": digest, "from": "nowhere"})
    assert r.status_code == 202


def test_delete_blob(client: httpx.Client) -> None:
    digest = push_blob(client, "del", b"to delete")
    assert client.delete(f"/v2/del/blobs/{digest}").status_code == 202
    assert client.get(f"/v2/del/blobs/{digest}").status_code == 404
    r = client.delete(f"/v2/del/blobs/{digest}")
    assert r.status_code == 404
    assert errors(r) == ["BLOB_UNKNOWN"]


def test_delete_disabled(start_registry: Callable[..., Server]) -> None:
    server = start_registry(delete_enabled=False)
    with server.client() as c:
        digest = push_blob(c, "keep", b"kept")
        r = c.delete(f"/v2/keep/blobs/{digest}")
        assert r.status_code == 405
        assert errors(r) == ["UNSUPPORTED"]
        assert c.get(f"/v2/keep/blobs/{digest}").status_code == 200


def test_unsupported_method(client: httpx.Client) -> None:
    r = client.request("PATCH", f"/v2/m/blobs/{sha(b'')}")
    assert r.status_code == 405
    assert errors(r) == ["UNSUPPORTED"]


def test_percent_encoded_digest_in_path(client: httpx.Client) -> None:
    digest = push_blob(client, "enc", b"encoded")
    r = client.get("/v2/enc/blobs/" + digest.replace(":", "%3A"))
    assert (r.status_code, r.content) == (200, b"encoded")
