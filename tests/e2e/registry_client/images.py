"""Hand-made images for the registry client's tests: layer tars, configs, manifests and indexes."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import Any

import zstandard

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
GZIP_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def compress(tar: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(tar, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(tar)
    return tar


@dataclass
class Blob:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return digest(self.data)

    def desc(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


@dataclass
class Image:
    config: Blob
    layers: list[Blob]
    manifest: Blob
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.config.digest


def make_image(layer_tars: list[bytes], how: str = "gzip", arch: str = "amd64", oci: bool = False,
               cmd: list[str] | None = None, variant: str = "") -> Image:
    layer_type = {"gzip": OCI_GZIP if oci else GZIP_LAYER, "zstd": OCI_ZSTD,
                  "": "application/vnd.oci.image.layer.v1.tar"}[how]
    layers = [Blob(compress(t, how), layer_type) for t in layer_tars]
    cfg: dict[str, Any] = {
        "architecture": arch, "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": cmd or ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(t) for t in layer_tars]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(layer_tars))],
    }
    if variant:
        cfg["variant"] = variant
    config = Blob(json.dumps(cfg).encode(), OCI_CONFIG if oci else DOCKER_CONFIG)
    mtype = OCI_MANIFEST if oci else DOCKER_MANIFEST
    doc = {"schemaVersion": 2, "mediaType": mtype, "config": config.desc(), "layers": [b.desc() for b in layers]}
    manifest = Blob(json.dumps(doc, indent=2).encode(), mtype)
    blobs = {b.digest: b.data for b in [config, *layers]}
    return Image(config, layers, manifest, blobs)


def make_index(entries: list[tuple[Image, dict[str, str]]], oci: bool = True) -> Blob:
    mtype = OCI_INDEX if oci else DOCKER_LIST
    doc = {"schemaVersion": 2, "mediaType": mtype,
           "manifests": [img.manifest.desc(platform=platform) for img, platform in entries]}
    return Blob(json.dumps(doc).encode(), mtype)
