"""Image manifests and indexes (oci layer): OCI image-spec documents as dicts, descriptors."""

from __future__ import annotations

from typing import Any

from berth.oci import mediatypes

__all__ = ["descriptor", "image_index", "image_manifest"]


def descriptor(media_type: str, digest: str, size: int, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    if annotations:
        out["annotations"] = annotations
    return out


def image_manifest(config: dict[str, Any], layers: list[dict[str, Any]]) -> dict[str, Any]:
    """An OCI image manifest (image-spec manifest.md)."""
    return {"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST, "config": config, "layers": layers}


def image_index(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """An OCI image index (image-spec image-index.md)."""
    return {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": manifests}
