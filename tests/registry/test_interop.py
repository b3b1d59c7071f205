"""Interop: skopeo pushes to and pulls from our registry, and distribution 2.8 answers the same way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.registry.conftest import Server
from tests.registry.helpers import OCI_MANIFEST, put_manifest, sha
from tests.registry.ocidir import make_oci_dir, random_layer
from tests.registry.peers import docker_registry, have_docker_registry

pytestmark = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")


def skopeo(*args: str) -> None:
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def image(tmp_path: Path) -> tuple[Path, str]:
    layers = [random_layer({"bin/tool": os.urandom(200_000)}), random_layer({"etc/conf": b"x=1\n"})]
    path = tmp_path / "image"
    return path, make_oci_dir(str(path), "v1", layers)


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[str]:
    if not have_docker_registry():
        pytest.skip("docker-registry (distribution) not installed")
    with docker_registry(tmp_path / "distribution") as addr:
        yield addr


def _index_digest(oci_dir: Path) -> str:
    return str(json.loads((oci_dir / "index.json").read_text())["manifests"][0]["digest"])


def test_skopeo_copy_in_and_out(registry: Server, image: tuple[Path, str], tmp_path: Path) -> None:
    src, digest = image
    skopeo("copy", "--preserve-digests", "--dest-tls-verify=false", f"oci:{src}:v1",
           f"docker://{registry.host}/interop/img:v1")
    out = tmp_path / "out"
    skopeo("copy", "--preserve-digests", "--dest-oci-accept-uncompressed-layers", "--src-tls-verify=false",
           f"docker://{registry.host}/interop/img:v1", f"oci:{out}:v1")
    assert _index_digest(out) == digest
    for blob in (src / "blobs" / "sha256").iterdir():
        assert (out / "blobs" / "sha256" / blob.name).read_bytes() == blob.read_bytes()
    with registry.client() as c:
        head = c.head("/v2/interop/img/manifests/v1")
        assert head.headers["Docker-Content-Digest"] == digest


def _with_digest(location: str, digest: str) -> str:
    """Add `digest=` to an upload location that may carry its own query (distribution's `_state`)."""
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def _probe(base: str, name: str, digest: str) -> dict[str, object]:
    """What a client sees for the same questions (statuses, error codes, key headers)."""
    out: dict[str, object] = {}
    accept = {"Accept": f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"}
    with httpx.Client(base_url=f"http://{base}", timeout=30, headers=accept) as c:
        def code(r: httpx.Response) -> object:
            if r.status_code >= 400 and r.content:
                try:
                    return r.status_code, [e["code"] for e in r.json()["errors"]]
                except ValueError:
                    return r.status_code, r.text.strip()
            return r.status_code

        head = c.head(f"/v2/{name}/manifests/v1")
        out["head"] = (head.status_code, head.headers.get("Docker-Content-Digest"),
                       head.headers.get("Content-Type"), head.headers.get("Content-Length"))
        out["by digest"] = c.get(f"/v2/{name}/manifests/{digest}").content
        out["tags"] = c.get(f"/v2/{name}/tags/list").json()
        out["tags n=1"] = c.get(f"/v2/{name}/tags/list", params={"n": 1}).json()
        out["unknown tag"] = code(c.get(f"/v2/{name}/manifests/nope"))
        out["unknown blob"] = code(c.get(f"/v2/{name}/blobs/{sha(b'unknown')}"))
        out["bad digest"] = code(c.get(f"/v2/{name}/manifests/sha256:short"))[0]  # type: ignore[index]
        out["bad name"] = code(c.get("/v2/UPPER/tags/list"))
        out["unknown repo tags"] = code(c.get("/v2/never/pushed/tags/list"))
        out["unknown upload"] = code(c.patch(f"/v2/{name}/blobs/uploads/3f1c4b0e-0000-4000-8000-000000000000",
                                             content=b"x"))
        start = c.post(f"/v2/{name}/blobs/uploads/")
        out["start"] = (start.status_code, start.headers.get("Range"))
        location = start.headers["Location"]
        first = c.patch(location, content=b"hello ", headers={"Content-Range": "0-5"})
        out["patch"] = (first.status_code, first.headers.get("Range"))
        location = first.headers["Location"]  # distribution moves its upload state into the Location
        skipped = c.patch(location, content=b"world", headers={"Content-Range": "9-13"})
        out["out of order"] = skipped.status_code
        location = skipped.headers.get("Location", location)
        out["wrong digest"] = code(c.put(_with_digest(location, sha(b"hello world")), content=b"there",
                                         headers={"Content-Range": "6-10"}))
        for blob in (b"{}", b"layer"):  # distribution 2.8 has no single-POST upload: POST then PUT
            loc = c.post(f"/v2/{name}/blobs/uploads/").headers["Location"]
            assert c.put(_with_digest(loc, sha(blob)), content=blob).status_code == 201
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(b"{}"), "size": 2},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b"layer"),
                           "size": 5}]}
        doc["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b"missing"),
                              "size": 7})
        out["missing blob"] = code(put_manifest(c, name, "broken", doc, OCI_MANIFEST)[0])
        out["mount"] = c.post(f"/v2/other/{name}/blobs/uploads/",
                              params={"mount": sha(b"layer"), "from": name}).status_code
        out["range"] = c.get(f"/v2/{name}/blobs/{sha(b'layer')}", headers={"Range": "bytes=1-3"}).content
        out["delete tagged"] = c.delete(f"/v2/{name}/manifests/{digest}").status_code
        out["after delete"] = code(c.get(f"/v2/{name}/manifests/{digest}"))
    return out


def test_same_answers_as_distribution(registry: Server, peer: str, image: tuple[Path, str]) -> None:
    src, digest = image
    answers = {}
    for host in (registry.host, peer):
        skopeo("copy", "--preserve-digests", "--dest-tls-verify=false", f"oci:{src}:v1",
               f"docker://{host}/interop/img:v1")
        answers[host] = _probe(host, "interop/img", digest)
    ours, theirs = answers[registry.host], answers[peer]
    differing = {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]}
    # Where distribution 2.8 strays from the spec: a malformed digest is a 500 there (spec: 400 DIGEST_INVALID),
    # an upper-case name a router 404 (spec: NAME_INVALID), a chunk that skips bytes is accepted (spec: 416),
    # an upload id it did not issue is BLOB_UPLOAD_INVALID (spec: BLOB_UPLOAD_UNKNOWN).
    assert differing == {"bad digest": (400, 500),
                         "bad name": ((400, ["NAME_INVALID"]), (404, "404 page not found")),
                         "out of order": (416, 202),
                         "unknown upload": ((404, ["BLOB_UPLOAD_UNKNOWN"]), (404, ["BLOB_UPLOAD_INVALID"]))}


def test_push_to_both_then_copy_between(registry: Server, peer: str, image: tuple[Path, str],
                                       tmp_path: Path) -> None:
    src, _ = image
    skopeo("copy", "--dest-tls-verify=false", f"oci:{src}:v1", f"docker://{peer}/a/b:v1")
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", f"docker://{peer}/a/b:v1",
           f"docker://{registry.host}/a/b:v1")
    with httpx.Client(timeout=30) as c:
        theirs = c.get(f"http://{peer}/v2/a/b/manifests/v1", headers={"Accept": OCI_MANIFEST})
        ours = c.get(f"http://{registry.host}/v2/a/b/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert ours.content == theirs.content
    assert ours.headers["Docker-Content-Digest"] == theirs.headers["Docker-Content-Digest"]


