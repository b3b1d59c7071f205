"""Manifest, tag list, catalog, referrers and name endpoints over a real loopback socket."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx

from tests.registry.conftest import Server
from tests.registry.helpers import (
    OCI_INDEX,
    OCI_MANIFEST,
    image_manifest,
    outcome,
    push_blob,
    put_manifest,
    sha,
)


def test_push_and_pull_manifest_by_tag_and_digest(client: httpx.Client) -> None:
    doc = image_manifest(client, "app", [b"layer one"], custom={"kept": True})
    r, body = put_manifest(client, "app", "v1", doc)
    assert r.status_code == 201
    digest = sha(body)
    assert r.headers["Docker-Content-Digest"] == digest
    assert r.headers["Location"] == f"/v2/app/manifests/{digest}"
    for ref in ("v1", digest):
        got = client.get(f"/v2/app/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert (got.status_code, got.content) == (200, body)  # served verbatim, custom fields too
        assert got.headers["Content-Type"] == OCI_MANIFEST
        assert got.headers["Docker-Content-Digest"] == digest
        head = client.head(f"/v2/app/manifests/{ref}")
        assert (head.status_code, head.headers["Content-Length"]) == (200, str(len(body)))
        assert head.headers["Docker-Content-Digest"] == digest


def test_put_by_digest_with_tags(client: httpx.Client) -> None:
    doc = image_manifest(client, "bydigest", [])
    body = json.dumps(doc).encode()
    r = client.put(f"/v2/bydigest/manifests/{sha(body)}?tag=a&tag=b", content=body,
                   headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    assert r.headers.get_list("OCI-Tag") == ["a", "b"]
    assert client.get("/v2/bydigest/tags/list").json()["tags"] == ["a", "b"]
    wrong = client.put(f"/v2/bydigest/manifests/{sha(b'other')}", content=body,
                       headers={"Content-Type": OCI_MANIFEST})
    assert outcome(wrong) == (400, ["DIGEST_INVALID"])


def test_sha512_manifest_reference(client: httpx.Client) -> None:
    doc = image_manifest(client, "s512", [b"x"])
    body = json.dumps(doc).encode()
    digest = sha(body, "sha512")
    r = client.put(f"/v2/s512/manifests/{digest}", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    got = client.get(f"/v2/s512/manifests/{digest}")
    assert (got.status_code, got.content) == (200, body)


def test_manifest_errors(client: httpx.Client) -> None:
    assert outcome(client.get("/v2/nothing/manifests/latest"))[0] == 404
    push_blob(client, "known", b"blob")
    assert outcome(client.get("/v2/known/manifests/latest")) == (404, ["MANIFEST_UNKNOWN"])
    assert outcome(client.get("/v2/known/manifests/sha256:123")) == (400, ["DIGEST_INVALID"])
    doc = image_manifest(client, "known", [])
    doc["layers"] = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b"missing"),
                      "size": 7}]
    assert outcome(put_manifest(client, "known", "t", doc)[0]) == (400, ["MANIFEST_BLOB_UNKNOWN"])
    bad_json = client.put("/v2/known/manifests/t", content=b"{not json", headers={"Content-Type": OCI_MANIFEST})
    assert outcome(bad_json) == (400, ["MANIFEST_INVALID"])
    doc = image_manifest(client, "known", [])
    doc["config"]["digest"] = "sha256:zz"
    assert outcome(put_manifest(client, "known", "t", doc)[0]) == (400, ["MANIFEST_INVALID"])
    mismatch = image_manifest(client, "known", [])
    r, _ = put_manifest(client, "known", "t", mismatch, media=OCI_INDEX)
    assert outcome(r) == (400, ["MANIFEST_INVALID"])
    r, _ = put_manifest(client, "known", "bad tag!", image_manifest(client, "known", []))
    assert r.status_code == 400


def test_foreign_layers_need_not_be_pushed(client: httpx.Client) -> None:
    doc = image_manifest(client, "foreign", [])
    doc["layers"] = [{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                      "digest": sha(b"elsewhere"), "size": 9, "urls": ["https://example.com/l"]}]
    assert put_manifest(client, "foreign", "v1", doc)[0].status_code == 201


def test_oversized_manifest(client: httpx.Client) -> None:
    doc: dict[str, Any] = image_manifest(client, "huge", [])
    doc["annotations"] = {"pad": "x" * (4 * 1024 * 1024)}
    r, _ = put_manifest(client, "huge", "v1", doc)
    assert r.status_code == 413


def test_index_needs_its_manifests(client: httpx.Client) -> None:
    r, body = put_manifest(client, "multi", "amd64", image_manifest(client, "multi", [b"l"]))
    child = {"mediaType": OCI_MANIFEST, "digest": sha(body), "size": len(body),
             "platform": {"os": "linux", "architecture": "amd64"}}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}
    assert put_manifest(client, "multi", "latest", index, OCI_INDEX)[0].status_code == 201
    nested = {"schemaVersion": 2, "mediaType": OCI_INDEX,
              "manifests": [child, {"mediaType": OCI_MANIFEST, "digest": sha(b"nope"), "size": 4}]}
    r, _ = put_manifest(client, "multi", "broken", nested, OCI_INDEX)
    assert outcome(r) == (400, ["MANIFEST_BLOB_UNKNOWN"])
    assert client.get("/v2/multi/manifests/latest").headers["Content-Type"] == OCI_INDEX


def test_tag_list_pagination(client: httpx.Client) -> None:
    doc = image_manifest(client, "paged", [])
    for tag in ("c", "a", "e", "b", "d"):
        put_manifest(client, "paged", tag, doc)
    r = client.get("/v2/paged/tags/list")
    assert r.json() == {"name": "paged", "tags": ["a", "b", "c", "d", "e"]}
    r = client.get("/v2/paged/tags/list", params={"n": 2})
    assert r.json()["tags"] == ["a", "b"]
    assert r.headers["Link"] == '</v2/paged/tags/list?n=2&last=b>; rel="next"'
    r = client.get("/v2/paged/tags/list", params={"n": 2, "last": "b"})
    assert r.json()["tags"] == ["c", "d"]
    r = client.get("/v2/paged/tags/list", params={"n": 2, "last": "d"})
    assert (r.json()["tags"], "Link" in r.headers) == (["e"], False)
    assert client.get("/v2/paged/tags/list", params={"n": 0}).json()["tags"] == []
    assert outcome(client.get("/v2/unknown/tags/list")) == (404, ["NAME_UNKNOWN"])


def test_catalog_pagination(client: httpx.Client) -> None:
    for name in ("zeta", "alpha/one", "beta"):
        push_blob(client, name, b"x")
    assert client.get("/v2/_catalog").json() == {"repositories": ["alpha/one", "beta", "zeta"]}
    r = client.get("/v2/_catalog", params={"n": 1})
    assert r.json()["repositories"] == ["alpha/one"]
    assert r.headers["Link"] == '</v2/_catalog?n=1&last=alpha%2Fone>; rel="next"'
    assert client.get("/v2/_catalog", params={"n": 5, "last": "beta"}).json()["repositories"] == ["zeta"]


def test_delete_manifest_and_tag(client: httpx.Client) -> None:
    _, body = put_manifest(client, "gone", "v1", image_manifest(client, "gone", []))
    put_manifest(client, "gone", "v2", json.loads(body))
    assert client.delete("/v2/gone/manifests/v2").status_code == 202  # a tag
    assert client.get("/v2/gone/manifests/v2").status_code == 404
    assert client.get("/v2/gone/manifests/v1").status_code == 200
    assert client.delete(f"/v2/gone/manifests/{sha(body)}").status_code == 202
    for ref in ("v1", sha(body)):
        assert outcome(client.get(f"/v2/gone/manifests/{ref}")) == (404, ["MANIFEST_UNKNOWN"])
    assert outcome(client.delete(f"/v2/gone/manifests/{sha(body)}")) == (404, ["MANIFEST_UNKNOWN"])


def test_referrers(client: httpx.Client) -> None:
    r, subject_body = put_manifest(client, "ref", "v1", image_manifest(client, "ref", [b"base"]))
    subject = {"mediaType": OCI_MANIFEST, "digest": sha(subject_body), "size": len(subject_body)}
    empty = push_blob(client, "ref", b"{}")
    pushed = {}
    for kind in ("application/vnd.example.sbom", "application/vnd.example.sig"):
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
               "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
               "layers": [], "subject": subject, "annotations": {"k": kind}}
        r, body = put_manifest(client, "ref", sha(json.dumps(doc).encode()), doc)
        assert r.status_code == 201
        assert r.headers["OCI-Subject"] == subject["digest"]
        pushed[kind] = sha(body)
    r = client.get(f"/v2/ref/referrers/{subject['digest']}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    index = r.json()
    assert {m["digest"]: m["artifactType"] for m in index["manifests"]} == {v: k for k, v in pushed.items()}
    assert all(m["annotations"] == {"k": m["artifactType"]} for m in index["manifests"])
    r = client.get(f"/v2/ref/referrers/{subject['digest']}", params={"artifactType": "application/vnd.example.sig"})
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in r.json()["manifests"]] == [pushed["application/vnd.example.sig"]]
    r = client.get(f"/v2/ref/referrers/{sha(b'unknown subject')}")
    assert (r.status_code, r.json()["manifests"]) == (200, [])
    assert outcome(client.get("/v2/ref/referrers/sha256:bad")) == (400, ["DIGEST_INVALID"])


def test_referrer_to_missing_subject(client: httpx.Client) -> None:
    empty = push_blob(client, "orphan", b"{}")
    missing = sha(b"never pushed subject")
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x",
           "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
           "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": missing, "size": 10}}
    r, body = put_manifest(client, "orphan", "sig", doc)
    assert (r.status_code, r.headers["OCI-Subject"]) == (201, missing)
    assert [m["digest"] for m in client.get(f"/v2/orphan/referrers/{missing}").json()["manifests"]] == [sha(body)]


def _raw(server: Server, target: str) -> tuple[int, bytes]:
    """Send a request line as written (httpx would normalize dot segments)."""
    host, port = server.host.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_hostile_names(registry: Server, client: httpx.Client) -> None:
    push_blob(client, "safe", b"secret")
    for target in ("/v2/../safe/tags/list", "/v2/%2e%2e/safe/tags/list", "/v2/a/%2e%2e/b/tags/list",
                   "/v2/UPPER/tags/list", "/v2/a//b/tags/list", "/v2/-a/tags/list", "/v2/a%2fb/tags/list",
                   "/v2/a/./b/tags/list", "/v2/" + "a" * 300 + "/tags/list"):
        status, body = _raw(registry, target)
        assert status == 400, target
        assert json.loads(body)["errors"][0]["code"] == "NAME_INVALID", target
    assert _raw(registry, "/v2/safe/blobs/" + sha(b"secret"))[0] == 200
    assert not list((registry.root).glob("**/safe*"))  # names never become paths


def test_unknown_paths(client: httpx.Client) -> None:
    assert client.get("/v3/").status_code == 404
    assert client.get("/v2/x/unknown/thing").status_code == 404
