"""Manifest checks on push: JSON shape, media type, referenced blobs/manifests, subject and artifact type."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from berth.oci import mediatypes as mt
from berth.registry.errors import RegistryError
from berth.registry.names import is_digest
from berth.registry.storage import ManifestRecord

__all__ = ["INDEX_TYPES", "MAX_MANIFEST", "digest_of", "parse_manifest"]

MAX_MANIFEST = 4 * 1024 * 1024
INDEX_TYPES = (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST)
IMAGE_TYPES = (mt.OCI_MANIFEST, mt.DOCKER_MANIFEST)


def digest_of(data: bytes, algo: str = "sha256") -> str:
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


def _invalid(message: str, detail: Any = None) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", f"manifest invalid: {message}", detail)


def _descriptor(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _invalid(f"{where} is not a descriptor")
    digest, size, media = obj.get("digest"), obj.get("size"), obj.get("mediaType")
    if not isinstance(digest, str) or not is_digest(digest):
        raise _invalid(f"{where} has an invalid digest", {"digest": str(digest)[:200]})
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where} has an invalid size")
    if media is not None and not isinstance(media, str):
        raise _invalid(f"{where} has an invalid mediaType")
    return obj


def _foreign(desc: dict[str, Any]) -> bool:
    """Non-distributable layers (and layers with `urls`) are not required to be pushed."""
    media = str(desc.get("mediaType") or "")
    return "nondistributable" in media or media == mt.DOCKER_FOREIGN_LAYER_GZIP or bool(desc.get("urls"))


def parse_manifest(
    data: bytes,
    content_type: str,
    digest: str,
    has_blob: Callable[[str], bool],
    has_manifest: Callable[[str], bool],
) -> ManifestRecord:
    """Validate a pushed manifest and describe it; raise MANIFEST_INVALID / MANIFEST_BLOB_UNKNOWN."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _invalid("not a JSON object")
    body_type = doc.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise _invalid("mediaType is not a string")
    content_type = content_type.split(";")[0].strip()
    if content_type in ("", "application/json", "application/octet-stream"):
        content_type = ""
    if body_type and content_type and body_type != content_type:
        raise _invalid(f"mediaType {body_type!r} does not match Content-Type {content_type!r}")
    media = content_type or body_type or ""
    if not media:
        raise _invalid("no media type (Content-Type or mediaType)")
    if media in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED):
        raise _invalid("schema 1 manifests are not supported")
    if media in IMAGE_TYPES + INDEX_TYPES and doc.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    missing: list[str] = []
    artifact_type = doc.get("artifactType") if isinstance(doc.get("artifactType"), str) else None
    if media in INDEX_TYPES:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise _invalid("manifests is not a list")
        for i, child in enumerate(children):
            d = _descriptor(child, f"manifests[{i}]")
            if not has_manifest(d["digest"]):
                missing.append(d["digest"])
    elif media in IMAGE_TYPES:
        config = _descriptor(doc.get("config"), "config")
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise _invalid("layers is not a list")
        descs = [config] + [_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
        missing = [d["digest"] for d in descs if not _foreign(d) and not has_blob(d["digest"])]
        if artifact_type is None and isinstance(config.get("mediaType"), str):
            artifact_type = config["mediaType"]
    if missing:
        raise RegistryError("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", {"digest": missing[0]})
    subject = None
    if "subject" in doc:
        subject = _descriptor(doc["subject"], "subject")["digest"]
    annotations = doc.get("annotations")
    if annotations is not None and not (isinstance(annotations, dict)
                                        and all(isinstance(v, str) for v in annotations.values())):
        raise _invalid("annotations must map strings to strings")
    return ManifestRecord(digest, media, len(data), subject, artifact_type, annotations or None)
