"""Small pushes for the registry tests: blobs, image manifests, artifacts."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha(data: bytes, algo: str = "sha256") -> str:
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


def push_blob(c: httpx.Client, name: str, data: bytes) -> str:
    digest = sha(data)
    r = c.post(f"/v2/{name}/blobs/uploads/", params={"digest": digest}, content=data,
               headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return digest


def image_manifest(c: httpx.Client, name: str, layers: list[bytes], config: bytes = b"{}",
                   **extra: Any) -> dict[str, Any]:
    """Push the blobs and return an OCI image manifest referring to them (not pushed)."""
    cfg = push_blob(c, name, config)
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": cfg, "size": len(config)},
            "layers": [{"mediaType": LAYER, "digest": push_blob(c, name, data), "size": len(data)}
                       for data in layers], **extra}


def put_manifest(c: httpx.Client, name: str, ref: str, doc: dict[str, Any],
                 media: str = OCI_MANIFEST) -> tuple[httpx.Response, bytes]:
    body = json.dumps(doc).encode()
    return c.put(f"/v2/{name}/manifests/{ref}", content=body, headers={"Content-Type": media}), body


def errors(r: httpx.Response) -> list[str]:
    return [e["code"] for e in r.json()["errors"]]


def outcome(r: httpx.Response) -> tuple[int, list[str]]:
    """(status, error codes) of a response, for one-line assertions."""
    return r.status_code, errors(r) if r.status_code >= 400 and r.content else []
