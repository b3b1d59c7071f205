"""`docker push` (services layer): blobs (skipped, mounted or uploaded), then the manifest; RepoDigest kept."""

from __future__ import annotations

import concurrent.futures
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx

from berth import errdefs
from berth.daemon.images import refs
from berth.daemon.images.jsonprogress import progress
from berth.daemon.images.registry import Emit, RegistryService, connection_error
from berth.distribution import manifests
from berth.distribution.auth import Credentials
from berth.distribution.client import RegistryClient
from berth.distribution.errors import RegistryError
from berth.oci import digest as dg
from berth.oci import mediatypes as mt
from berth.store.compression import detect
from berth.store.gzipper import gzip_blob

if TYPE_CHECKING:
    from berth.daemon.images.service import ImagesService
    from berth.daemon.images.views import Image

__all__ = ["push"]



@dataclass
class _Layer:
    diff_id: str
    blob: str  # the local blob holding this layer (compressed as pulled, or a plain tar)
    desc: dict[str, Any] | None = None  # what the manifest lists, once known


def push(reg: RegistryService, ref: refs.Reference, creds: Credentials, emit: Emit) -> None:
    svc = reg.images
    if ref.digest:
        raise errdefs.InvalidParameter("cannot push a digest reference")
    tags = [ref] if ref.tag else _repo_tags(svc, ref)
    for t in tags:
        if svc.meta.tag_target(str(t)) is None:
            raise errdefs.NotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
    emit({"status": f"The push refers to repository [{ref.name}]"})
    base = reg.reachable_base(ref.domain)
    try:
        with reg.client(base, creds) as client:
            for t in tags:
                _push_one(reg, client, t, emit)
    except RegistryError as exc:
        raise errdefs.System(exc.text()) from None
    except httpx.HTTPError as exc:
        req = getattr(exc, "request", None)
        raise connection_error(req.method if req else "POST", str(req.url) if req else base, exc) from None


def _repo_tags(svc: ImagesService, ref: refs.Reference) -> list[refs.Reference]:
    found = sorted({refs.parse(r) for rs in svc.meta.all_refs().values() for r in rs
                    if "@" not in r and refs.parse(r).name == ref.name}, key=lambda r: r.tag or "")
    if not found:
        raise errdefs.NotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
    return found


class _Pusher:
    def __init__(self, reg: RegistryService, client: RegistryClient, repo: refs.Reference, emit: Emit) -> None:
        self.reg, self.client, self.repo, self.emit = reg, client, repo, emit
        self.svc = reg.images
        self.where = client.base_url + "/" + repo.path

    def exists(self, digest: str) -> bool:
        return self.client.has_blob(self.repo.path, digest)

    def mountable(self, digest: str) -> bool:
        prefix = self.client.base_url + "/"
        return any(s.startswith(prefix) for s in self.reg.dist.sources(digest))

    def mount(self, digest: str) -> str | None:
        """Try a cross-repository mount from a repository of this registry the blob came from."""
        prefix = self.client.base_url + "/"
        for source in self.reg.dist.sources(digest):
            if not source.startswith(prefix) or source == self.where:
                continue
            src = source[len(prefix):]
            if self.client.mount_blob(self.repo.path, digest, src) is None:
                return src
        return None

    def upload(self, digest: str, size: int, open_: Callable[[], BinaryIO], lid: str | None) -> None:
        if not self.reg.uploads.acquire(blocking=False):
            if lid:
                self.emit(progress("Waiting", lid))
            self.reg.uploads.acquire()
        try:
            last = [0.0]

            def report(sent: int) -> None:
                now = time.monotonic()
                if lid and (now - last[0] >= 0.1 or sent >= size):
                    last[0] = now
                    self.emit(progress("Pushing", lid, sent, size))

            location = self.client.start_upload(self.repo.path)
            with open_() as f:
                self.client.upload(self.repo.path, location, digest, size, f, report)
        finally:
            self.reg.uploads.release()

    def layer(self, layer: _Layer) -> None:
        lid = dg.short_id(layer.diff_id)
        desc = layer.desc or self._known_form(layer)
        if desc is not None:
            digest = str(desc["digest"])
            if self.exists(digest):
                layer.desc = desc
                self.emit(progress("Layer already exists", lid))
                return
            source = self.mount(digest)
            if source is not None:
                layer.desc = desc
                self.reg.dist.add_source(digest, self.where)
                self.emit(progress(f"Mounted from {source}", lid))
                return
            if self.svc.content.has(digest):
                self.upload(digest, int(desc["size"]), lambda: self.svc.content.open(digest), lid)
                layer.desc = desc
                self._pushed(digest, lid)
                return
        self._compress_and_upload(layer, lid)

    def _known_form(self, layer: _Layer) -> dict[str, Any] | None:
        """The descriptor of the layer's local blob when it is compressed already (as pulled)."""
        with self.svc.content.open(layer.blob) as f:
            kind = detect(f.read(6))
        if kind == "gzip":
            return {"mediaType": mt.DOCKER_LAYER_GZIP, "size": self.svc.content.size(layer.blob), "digest": layer.blob}
        if kind == "zstd":
            return {"mediaType": mt.OCI_LAYER_ZSTD, "size": self.svc.content.size(layer.blob), "digest": layer.blob}
        for digest, media_type, size in self.reg.dist.compressed(layer.diff_id):
            if media_type in (mt.DOCKER_LAYER_GZIP, mt.OCI_LAYER_GZIP):
                return {"mediaType": mt.DOCKER_LAYER_GZIP, "size": size, "digest": digest}
        return None

    def _compress_and_upload(self, layer: _Layer, lid: str) -> None:
        os.makedirs(self.svc.tmp_root, mode=0o700, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.svc.tmp_root) as tmp:
            with self.svc.content.open(layer.blob) as src:
                digest, size = gzip_blob(src, tmp)
            self.reg.dist.add_compressed(layer.diff_id, digest, mt.DOCKER_LAYER_GZIP, size)
            layer.desc = {"mediaType": mt.DOCKER_LAYER_GZIP, "size": size, "digest": digest}
            if self.exists(digest):
                self.emit(progress("Layer already exists", lid))
                return

            def reopen() -> BinaryIO:
                tmp.seek(0)
                return os.fdopen(os.dup(tmp.fileno()), "rb")

            self.upload(digest, size, reopen, lid)
        self._pushed(digest, lid)

    def _pushed(self, digest: str, lid: str) -> None:
        self.reg.dist.add_source(digest, self.where)
        self.emit(progress("Pushed", lid))


def _original(reg: RegistryService, img: Image, pusher: _Pusher) -> tuple[bytes, str, list[dict[str, Any]]] | None:
    """The manifest the image was pulled with, when every layer blob of it is here or at the target already."""
    for _repo, digest, media_type, _size in reg.dist.manifests(img.id):
        if not reg.images.content.has(digest):
            continue
        raw = reg.images.content.read_bytes(digest)
        kind, doc = manifests.parse(raw, media_type)
        config, layers = manifests.image_manifest(doc)
        if config.get("digest") != img.id or len(layers) != len(img.diff_ids):
            continue
        if all(reg.images.content.has(layer.digest) or pusher.mountable(layer.digest) or pusher.exists(layer.digest)
               for layer in layers):
            return raw, kind, list(doc.get("layers") or [])
    return None


def _push_one(reg: RegistryService, client: RegistryClient, ref: refs.Reference, emit: Emit) -> None:
    svc = reg.images
    img = svc.get(str(ref))
    pusher = _Pusher(reg, client, ref, emit)
    original = _original(reg, img, pusher)
    layers: list[_Layer] = []
    for i, chain in enumerate(dg.chain_ids(img.diff_ids)):
        rec = svc.meta.get_snapshot(chain)
        if rec is None or not rec.blob or not svc.content.has(rec.blob):
            raise errdefs.System(f"layer {img.diff_ids[i]} of image {img.id} has no stored content")
        layers.append(_Layer(img.diff_ids[i], rec.blob, original[2][i] if original else None))
    for layer in reversed(layers):
        emit(progress("Preparing", dg.short_id(layer.diff_id)))
    if layers:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(layers), 16),
                                                   thread_name_prefix="push") as pool:
            for f in [pool.submit(pusher.layer, layer) for layer in reversed(layers)]:
                f.result()
    config_size = svc.content.size(img.id)
    if not pusher.exists(img.id):
        pusher.upload(img.id, config_size, lambda: svc.content.open(img.id), None)
    reg.dist.add_source(img.id, pusher.where)
    if original is not None and [layer.desc for layer in layers] == original[2]:
        raw, media_type = original[0], original[1]
    else:
        raw, media_type = _schema2(img.id, config_size, [layer.desc or {} for layer in layers])
    digest = client.put_manifest(ref.path, ref.tag or "latest", raw, media_type)
    svc.content.ingest_bytes(raw)
    reg.dist.set_manifest(img.id, ref.name, digest, media_type, len(raw))
    with svc.lock:
        svc.meta.set_tag(f"{ref.name}@{digest}", img.id)
    emit({"status": f"{ref.tag}: digest: {digest} size: {len(raw)}"})
    emit({"progressDetail": {}, "aux": {"Tag": ref.tag, "Digest": digest, "Size": len(raw)}})
    svc.emit("push", ref.familiar(), ref.familiar())  # dockerd's actor is the reference


def _schema2(config_digest: str, config_size: int, layers: list[dict[str, Any]]) -> tuple[bytes, str]:
    """A Docker schema2 manifest (an OCI one when a layer is zstd, which schema2 cannot name)."""
    oci = any(d.get("mediaType") == mt.OCI_LAYER_ZSTD for d in layers)
    if oci:
        layers = [{**d, "mediaType": mt.OCI_LAYER_GZIP} if d.get("mediaType") == mt.DOCKER_LAYER_GZIP else d
                  for d in layers]
    media_type = mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG, "size": config_size,
                   "digest": config_digest},
        "layers": [{"mediaType": d["mediaType"], "size": d["size"], "digest": d["digest"]} for d in layers],
    }
    return json.dumps(doc, indent=3).encode(), media_type
