"""`docker save` (services layer): images as a Docker 25 archive: OCI layout + manifest.json + repositories
(API-SCOPE §6.4); uncompressed layers, every mtime 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from berth import errdefs
from berth.daemon.images import refs
from berth.oci import digest as dg
from berth.oci import mediatypes
from berth.oci.manifest import descriptor, image_index, image_manifest
from berth.store.compression import detect

if TYPE_CHECKING:
    from berth.daemon.images.service import ImagesService
    from berth.daemon.images.views import Image

from berth.daemon.images.tarstream import END, dir_member, file_member, member

__all__ = ["save"]


@dataclass
class _Entry:
    image: Image
    tags: list[str] = field(default_factory=list)  # fully qualified name:tag
    layers: list[str] = field(default_factory=list)  # layer blob digests, bottom first


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _plan(svc: ImagesService, names: list[str]) -> list[_Entry]:
    entries: dict[str, _Entry] = {}
    for name in names:
        image_id, ref = svc.resolve_id(name)
        entry = entries.get(image_id)
        if entry is None:
            entry = entries[image_id] = _Entry(svc.get(image_id))
            for chain, diff in zip(dg.chain_ids(entry.image.diff_ids), entry.image.diff_ids, strict=True):
                rec = svc.meta.get_snapshot(chain)
                if rec is None or not rec.blob or not svc.content.has(rec.blob):
                    raise errdefs.System(f"layer {diff} of image {image_id} has no stored tar")
                entry.layers.append(rec.blob)
        if ref is not None and not ref.digest and str(ref) not in entry.tags:
            entry.tags.append(str(ref))
    return list(entries.values())


def _layer_type(svc: ImagesService, blob: str) -> str:
    """Pulled layers are kept compressed as they came: name what the blob holds."""
    with svc.content.open(blob) as f:
        kind = detect(f.read(6))
    return {"gzip": mediatypes.OCI_LAYER_GZIP, "zstd": mediatypes.OCI_LAYER_ZSTD}.get(kind, mediatypes.OCI_LAYER)


def save(svc: ImagesService, names: list[str]) -> Iterator[bytes]:
    """Resolve every name now (NotFound before any byte), then stream the archive."""
    if not names:
        raise errdefs.InvalidParameter("no images given")
    return _stream(svc, _plan(svc, names))


def _stream(svc: ImagesService, entries: list[_Entry]) -> Iterator[bytes]:
    written: set[str] = set()
    index: list[dict[str, Any]] = []
    docker_manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    yield dir_member("blobs")
    yield dir_member("blobs/sha256")
    for entry in entries:
        img = entry.image
        layer_descs = []
        for blob in [img.id, *entry.layers]:
            size = svc.content.size(blob)
            if blob != img.id:
                layer_descs.append(descriptor(_layer_type(svc, blob), blob, size))
            if blob not in written:
                written.add(blob)
                with svc.content.open(blob) as f:
                    yield from file_member(f"blobs/sha256/{dg.hex_of(blob)}", f, size)
        config = descriptor(mediatypes.OCI_CONFIG, img.id, svc.content.size(img.id))
        raw = _json(image_manifest(config, layer_descs))
        manifest_digest = dg.sha256(raw)
        if manifest_digest not in written:
            written.add(manifest_digest)
            yield member(f"blobs/sha256/{dg.hex_of(manifest_digest)}", raw)
        for tag in entry.tags or [""]:
            annotations = {"io.containerd.image.name": tag,
                           "org.opencontainers.image.ref.name": refs.parse(tag).tag or ""} if tag else None
            index.append(descriptor(mediatypes.OCI_MANIFEST, manifest_digest, len(raw), annotations))
        docker_manifest.append({
            "Config": f"blobs/sha256/{dg.hex_of(img.id)}",
            "RepoTags": [refs.familiar(t) for t in entry.tags] or None,
            "Layers": [f"blobs/sha256/{dg.hex_of(b)}" for b in entry.layers],
        })
        for tag in entry.tags:
            parsed = refs.parse(tag)
            if entry.layers and parsed.tag:
                repositories.setdefault(parsed.familiar_name(), {})[parsed.tag] = dg.hex_of(entry.layers[-1])
    yield member("index.json", _json(image_index(index)))
    yield member("manifest.json", _json(docker_manifest))
    yield member("oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
    if repositories:
        yield member("repositories", _json(repositories))
    yield END
