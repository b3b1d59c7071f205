"""Manifests and indexes as pulled (distribution layer): kinds, platform choice, layer descriptors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from berth import errdefs
from berth.oci import digest as dg
from berth.oci import mediatypes as mt
from berth.oci.image import go_arch

__all__ = ["Layer", "Platform", "choose", "image_manifest", "is_index", "parse", "parse_platform"]

INDEXES = (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST)
MANIFESTS = (mt.OCI_MANIFEST, mt.DOCKER_MANIFEST)
SCHEMA1 = (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED)
LAYER_TYPES = {
    mt.DOCKER_LAYER_GZIP: "gzip", mt.DOCKER_LAYER: "", mt.DOCKER_FOREIGN_LAYER_GZIP: "gzip",
    mt.OCI_LAYER: "", mt.OCI_LAYER_GZIP: "gzip", mt.OCI_LAYER_ZSTD: "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
}
CONFIG_TYPES = (mt.DOCKER_CONFIG, mt.OCI_CONFIG)


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True, slots=True)
class Layer:
    digest: str
    size: int
    media_type: str
    compression: str  # "gzip", "zstd" or "" (plain tar)


def parse_platform(text: str | None) -> Platform:
    """`linux/arm64/v8` -> Platform; empty -> this machine (linux/<arch>)."""
    if not text:
        return Platform("linux", go_arch())
    parts = text.lower().split("/")
    if len(parts) == 1:
        return Platform("linux", parts[0]) if parts[0] not in ("linux", "windows") else Platform(parts[0], go_arch())
    if len(parts) > 3 or not all(parts):
        raise errdefs.InvalidParameter(f'"{text}": unknown operating system or architecture: invalid argument')
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(parts[1], parts[1])
    return Platform(parts[0], arch, parts[2] if len(parts) == 3 else "")


def parse(raw: bytes, media_type: str) -> tuple[str, dict[str, Any]]:
    """The manifest's kind (its media type, from the body when the header is vague) and its document."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise errdefs.InvalidParameter(f"invalid manifest: {exc}") from None
    if not isinstance(doc, dict):
        raise errdefs.InvalidParameter("invalid manifest: not a JSON object")
    kind = str(doc.get("mediaType") or "")
    if kind and media_type in (*INDEXES, *MANIFESTS) and kind != media_type:
        raise errdefs.InvalidParameter(f"invalid manifest: media type {kind} does not match {media_type}")
    kind = kind or media_type
    if doc.get("schemaVersion") == 1 or kind in SCHEMA1:
        raise errdefs.InvalidParameter(
            "[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 "
            "support has been removed. Suggest the author of the image to push it with a newer format")
    if kind not in (*INDEXES, *MANIFESTS):
        kind = mt.OCI_INDEX if "manifests" in doc else mt.OCI_MANIFEST if "config" in doc else kind
    if kind not in (*INDEXES, *MANIFESTS):
        raise errdefs.InvalidParameter(f"unsupported manifest media type {media_type or kind!r}")
    return kind, doc


def is_index(kind: str) -> bool:
    return kind in INDEXES


def _arch_matches(want: Platform, p: dict[str, Any]) -> int:
    """0 = no match; higher = better (exact variant beats none)."""
    if str(p.get("os") or "") != want.os or str(p.get("architecture") or "") != want.architecture:
        return 0
    variant = str(p.get("variant") or "")
    if want.variant:
        return 2 if variant == want.variant else (1 if not variant and want.variant in ("v8",) else 0)
    if want.architecture == "arm64":
        return 2 if variant in ("", "v8") else 0
    return 2 if not variant else 1


def choose(doc: dict[str, Any], want: Platform) -> dict[str, Any]:
    """The index entry for `want`; NotFound with docker's text when there is none."""
    best: tuple[int, dict[str, Any]] | None = None
    for entry in doc.get("manifests") or []:
        if not isinstance(entry, dict) or entry.get("mediaType") not in (*MANIFESTS, None):
            continue
        annotations = entry.get("annotations") or {}
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        score = _arch_matches(want, entry.get("platform") or {})
        if score and (best is None or score > best[0]):
            best = (score, entry)
    if best is None:
        raise errdefs.NotFound(f"no matching manifest for {want} in the manifest list entries")
    return best[1]


def image_manifest(doc: dict[str, Any]) -> tuple[dict[str, Any], list[Layer]]:
    """The config descriptor and layers of an image manifest, checked for shape and media types."""
    config = doc.get("config")
    if not isinstance(config, dict) or not dg.is_digest(str(config.get("digest"))):
        raise errdefs.InvalidParameter("invalid manifest: no valid config descriptor")
    if config.get("mediaType") not in (*CONFIG_TYPES, None):
        raise errdefs.InvalidParameter(
            f"unsupported config media type {config.get('mediaType')!r}: this is not a container image")
    layers = []
    for desc in doc.get("layers") or []:
        digest, size, media = str(desc.get("digest")), desc.get("size"), str(desc.get("mediaType") or "")
        if not dg.is_digest(digest) or not isinstance(size, int) or size < 0:
            raise errdefs.InvalidParameter(f"invalid manifest: bad layer descriptor {digest}")
        if media not in LAYER_TYPES:
            raise errdefs.InvalidParameter(f"unsupported layer media type {media!r}")
        layers.append(Layer(digest, size, media, LAYER_TYPES[media]))
    return config, layers
