"""Concurrent and hostile uploads: parallel sessions, racing chunks, malformed ranges and bodies."""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket
from collections.abc import Callable

import httpx

from tests.registry.conftest import Server
from tests.registry.helpers import OCI_MANIFEST, outcome, push_blob, sha


def _chunked_push(url: str, name: str, data: bytes) -> int:
    with httpx.Client(base_url=url, timeout=60) as c:
        location = c.post(f"/v2/{name}/blobs/uploads/").headers["Location"]
        for off in range(0, len(data), 64 * 1024):
            part = data[off:off + 64 * 1024]
            r = c.patch(location, content=part, headers={"Content-Range": f"{off}-{off + len(part) - 1}"})
            assert r.status_code == 202
        return c.put(location, params={"digest": sha(data)}).status_code


def test_parallel_uploads_of_same_and_different_blobs(registry: Server) -> None:
    same = os.urandom(300_000)
    blobs = [same] * 4 + [os.urandom(200_000) for _ in range(4)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda ib: _chunked_push(registry.url, f"par/r{ib[0] % 3}", ib[1]),
                                 enumerate(blobs)))
    assert statuses == [201] * 8
    with registry.client() as c:
        for i, data in enumerate(blobs):
            assert c.get(f"/v2/par/r{i % 3}/blobs/{sha(data)}").content == data
    assert os.listdir(registry.root / "content" / "ingest") == []


def test_racing_chunks_on_one_session(client: httpx.Client, registry: Server) -> None:
    location = client.post("/v2/race/blobs/uploads/").headers["Location"]
    data = os.urandom(500_000)

    def send(_: int) -> int:
        with registry.client() as c:
            return c.patch(location, content=data, headers={"Content-Range": f"0-{len(data) - 1}"}).status_code

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(send, range(4)))
    assert statuses == [202, 416, 416, 416]
    assert client.put(location, params={"digest": sha(data)}).status_code == 201


def test_malformed_content_range(client: httpx.Client) -> None:
    location = client.post("/v2/cr/blobs/uploads/").headers["Location"]
    for bad in ("bytes=a-b", "5-1", "0-", "-5"):
        r = client.patch(location, content=b"abcdef", headers={"Content-Range": bad})
        assert r.status_code == 416, bad
    r = client.patch(location, content=b"abcdef", headers={"Content-Range": "0-9"})  # length disagrees
    assert r.status_code == 416
    assert client.get(location).headers["Range"] == "0-0"


def test_declared_size_over_the_limit_is_refused_before_reading(start_registry: Callable[..., Server]) -> None:
    server = start_registry(max_blob=1 << 20)
    host, port = server.host.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"POST /v2/huge/blobs/uploads/?digest={sha(b'')} HTTP/1.1\r\nHost: x\r\n"
                  f"Content-Length: {1 << 40}\r\n\r\n".encode())
        head = s.recv(65536).split(b"\r\n")[0]
    assert head.startswith(b"HTTP/1.1 413")


def test_malformed_manifests(client: httpx.Client) -> None:
    config = push_blob(client, "mal", b"{}")
    good_config = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2}
    cases = [
        [],
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": good_config, "layers": {}},
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": "nope", "layers": []},
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {**good_config, "size": -1}, "layers": []},
        {"schemaVersion": 1, "mediaType": OCI_MANIFEST, "config": good_config, "layers": []},
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": good_config, "layers": [],
         "annotations": {"n": 1}},
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": good_config, "layers": [],
         "subject": {"digest": "sha256:00", "size": 1}},
    ]
    for doc in cases:
        r = client.put("/v2/mal/manifests/t", content=json.dumps(doc).encode(),
                       headers={"Content-Type": OCI_MANIFEST})
        assert outcome(r) == (400, ["MANIFEST_INVALID"]), doc
    r = client.put("/v2/mal/manifests/t", content=b"\xff\xfe", headers={"Content-Type": OCI_MANIFEST})
    assert outcome(r) == (400, ["MANIFEST_INVALID"])
    assert client.get("/v2/mal/tags/list").json()["tags"] == []
