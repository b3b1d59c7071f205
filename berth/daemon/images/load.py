"""`docker load` (services layer): Docker archives (manifest.json; Docker 25 OCI-layout or legacy layout) and
plain OCI layouts; member names and links are resolved inside the archive only; diff ids are verified.
"""

from __future__ import annotations

import json
import lzma
import os
import posixpath
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from berth import errdefs
from berth.daemon.images import refs, remove
from berth.oci import digest as dg
from berth.oci import mediatypes
from berth.store.compression import DecompressingReader, Readable, detect
from berth.store.content import ContentWriter
from berth.store.snapshots.overlay import Detached
from berth.store.tarread import LNK, REG, SYM, TarFormatError, TarReader

if TYPE_CHECKING:
    from berth.daemon.images.service import ImagesService

__all__ = ["load"]

_INDEXES = (mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST)


@dataclass
class _Speculative:
    """A plain tar member unpacked while the archive streamed in, before the manifest says what it is."""

    unpacked: Detached | None  # None when the unpack failed (the member is then only spooled)
    writer: ContentWriter  # the member's bytes = the layer blob, committed once the layer is used
    used: bool = False


class _Archive:
    """The archive's regular files spooled to disk, and its links kept as a name map; plain tar members
    (layers) are unpacked on the way in, each into its own detached snapshot."""

    def __init__(self, tmp: str, svc: ImagesService | None = None) -> None:
        self.tmp = tmp
        self.svc = svc
        self.files: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.layers: dict[str, _Speculative] = {}

    def spool(self, stream: Readable) -> None:
        reader = TarReader(DecompressingReader(stream, external=False))
        try:
            for m in reader:
                name = _clean(m.name)
                if m.type == REG:
                    head = reader.peek(512) if self.svc is not None and m.size >= 64 else b""
                    if len(head) == 512 and _is_tar(head):
                        self._unpack(name, reader)
                        continue
                    if head and detect(head) in ("gzip", "zstd"):
                        self._unpack_compressed(name, reader)
                        continue
                    path = os.path.join(self.tmp, str(len(self.files)))
                    with open(path, "wb") as out:
                        reader.write_to(out.fileno())
                    self.files[name] = path
                elif m.type == SYM:
                    base = "" if m.linkname.startswith("/") else posixpath.dirname(name)
                    self.links[name] = _clean(posixpath.join(base, m.linkname))
                elif m.type == LNK:
                    self.links[name] = _clean(m.linkname)
            reader.drain()
        except (TarFormatError, EOFError) as exc:
            raise errdefs.InvalidParameter(f"invalid archive: {exc}") from None

    def _unpack(self, name: str, reader: TarReader) -> None:
        assert self.svc is not None
        writer = self.svc.content.writer()
        self.layers[name] = spec = _Speculative(None, writer)
        self.files[name] = writer.path
        try:
            spec.unpacked = self.svc.snapshots.unpack_detached(_MemberData(reader), tee=writer.write)
        except errdefs.InvalidParameter:
            pass  # not a layer after all, or a broken one: kept as a spooled file for the checks after
        writer.flush()

    def _unpack_compressed(self, name: str, reader: TarReader) -> None:
        """A compressed member: spooled as it is (for the checks after, when it is not a layer) and unpacked."""
        assert self.svc is not None
        path = os.path.join(self.tmp, str(len(self.files)))
        writer = self.svc.content.writer()
        self.layers[name] = spec = _Speculative(None, writer)
        self.files[name] = path
        with open(path, "wb") as spool:
            try:
                with DecompressingReader(_MemberData(reader, spool)) as plain:
                    spec.unpacked = self.svc.snapshots.unpack_detached(plain, tee=writer.write)
            except (errdefs.InvalidParameter, ValueError, EOFError, zlib.error, lzma.LZMAError):
                spec.unpacked = None
                writer.abort()
            spool.flush()
            reader.write_to(spool.fileno())  # what the decompressor did not read (after a failure)

    def close(self) -> None:
        """Drop what no image used."""
        for spec in self.layers.values():
            if spec.unpacked is not None and self.svc is not None:
                self.svc.snapshots.discard(spec.unpacked)  # a committed one was moved away: a no-op
            spec.writer.abort()  # a no-op after commit

    def resolve(self, name: str) -> str:
        """The name of the regular file `name` is or links to."""
        name = _clean(name)
        for _ in range(40):
            if name in self.files:
                return name
            if name not in self.links:
                break
            name = self.links[name]
        raise errdefs.InvalidParameter(f"invalid archive: {name} not found in the archive")

    def path(self, name: str) -> str:
        return self.files[self.resolve(name)]

    def speculative(self, name: str) -> _Speculative | None:
        spec = self.layers.get(self.resolve(name))
        return spec if spec is not None and not spec.used else None

    def has(self, name: str) -> bool:
        return name in self.files or name in self.links

    def json(self, name: str) -> Any:
        try:
            with open(self.path(name), "rb") as f:
                return json.load(f)
        except ValueError as exc:
            raise errdefs.InvalidParameter(f"invalid archive: {name}: {exc}") from None


class _MemberData:
    """The current tar member's data as a stream (copied to `spool` as it is read, when given)."""

    def __init__(self, reader: TarReader, spool: BinaryIO | None = None) -> None:
        self.reader = reader
        self.spool = spool

    def read(self, n: int = -1, /) -> bytes:
        data = self.reader.read_some(n if n > 0 else 1 << 20)
        if self.spool is not None:
            self.spool.write(data)
        return data


def _is_tar(head: bytes) -> bool:
    """A plain tar's first header: ustar magic and a valid checksum."""
    if len(head) < 512 or head[257:262] != b"ustar":
        return False
    try:
        stored = int(head[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(head) - sum(head[148:156]) + 8 * 32


def _clean(name: str) -> str:
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise errdefs.InvalidParameter(f"invalid archive: {name!r} is outside of the archive")
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def _blob(digest: str) -> str:
    alg, _, hexpart = digest.partition(":")
    return f"blobs/{alg}/{hexpart}"


def _oci_images(ar: _Archive) -> list[dict[str, Any]]:
    """manifest.json-shaped entries from an OCI layout's index.json (nested indexes followed)."""
    out: list[dict[str, Any]] = []
    pending = [(d, None) for d in ar.json("index.json").get("manifests") or []]
    while pending:
        desc, name = pending.pop(0)
        name = (desc.get("annotations") or {}).get("io.containerd.image.name") or name
        doc = ar.json(_blob(desc["digest"]))
        if desc.get("mediaType") in _INDEXES or "manifests" in doc:
            pending.extend((d, name) for d in doc.get("manifests") or [])
            continue
        out.append({"Config": _blob(doc["config"]["digest"]), "RepoTags": [name] if name else [],
                    "Layers": [_blob(layer["digest"]) for layer in doc.get("layers") or []]})
    return out


def load(svc: ImagesService, stream: Readable) -> list[str]:
    """Load every image of the archive; returns the lines Docker prints ("Loaded image: x:t")."""
    os.makedirs(svc.tmp_root, mode=0o700, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="load-", dir=svc.tmp_root)
    ar = _Archive(tmp, svc)
    try:
        ar.spool(stream)
        if ar.has("manifest.json"):
            images = ar.json("manifest.json")
        elif ar.has("index.json"):
            images = _oci_images(ar)
        else:
            raise errdefs.InvalidParameter("invalid archive: it has neither manifest.json nor index.json")
        lines: list[str] = []
        for entry in images:
            lines.extend(_load_image(svc, ar, entry))
        return lines
    finally:
        ar.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _load_image(svc: ImagesService, ar: _Archive, entry: dict[str, Any]) -> list[str]:
    with open(ar.path(entry["Config"]), "rb") as f:
        raw = f.read()
    doc = json.loads(raw)
    diff_ids = list((doc.get("rootfs") or {}).get("diff_ids") or [])
    layers = list(entry.get("Layers") or [])
    if len(diff_ids) != len(layers):
        raise errdefs.InvalidParameter("invalid archive: the config's diff ids do not match the layers")
    created: list[str] = []
    try:
        parent: str | None = None
        for diff_id, layer in zip(diff_ids, layers, strict=True):
            parent = _layer(svc, ar, parent, diff_id, layer, created)
        return _record(svc, raw, doc, parent, entry.get("RepoTags") or [])
    except BaseException:
        with svc.lock:
            for chain in reversed(created):
                remove.release_chain(svc, chain)
        raise


def _layer(svc: ImagesService, ar: _Archive, parent: str | None, diff_id: str, name: str,
           created: list[str]) -> str:
    chain = dg.chain_id(parent, diff_id)
    if svc.snapshots.exists(chain):
        return chain
    spec = ar.speculative(name)
    if spec is not None and spec.unpacked is not None:
        if spec.unpacked.diff_id != diff_id:
            raise errdefs.InvalidParameter(
                f"invalid diffID for layer {name}: calculated {spec.unpacked.diff_id}, expected {diff_id}")
        spec.used = True
        applied = svc.snapshots.commit_detached(spec.unpacked, parent)
        if applied.new:
            created.append(applied.chain_id)
        with svc.lock:
            blob = spec.writer.commit(diff_id, mediatypes.DOCKER_LAYER).digest
            if applied.new:
                svc.snapshots.set_blob(chain, blob)
        ar.files[ar.resolve(name)] = svc.content.path(blob)
        return chain
    with open(ar.path(name), "rb") as f, svc.content.writer() as writer, DecompressingReader(f) as reader:
        try:
            applied = svc.snapshots.apply_layer(parent, reader, tee=writer.write)
        except (ValueError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
            raise errdefs.InvalidParameter(f"invalid layer {name}: {exc}") from None
        if applied.new:
            created.append(applied.chain_id)
        if applied.diff_id != diff_id:
            raise errdefs.InvalidParameter(
                f"invalid diffID for layer {name}: calculated {applied.diff_id}, expected {diff_id}"
            )
        with svc.lock:
            blob = writer.commit(diff_id, mediatypes.DOCKER_LAYER).digest
            if applied.new:
                svc.snapshots.set_blob(chain, blob)
    return chain


def _record(svc: ImagesService, raw: bytes, doc: dict[str, Any], chain: str | None, tags: list[str]) -> list[str]:
    image_id = dg.sha256(raw)
    lines: list[str] = []
    with svc.lock:
        svc.content.ingest_bytes(raw, image_id)
        svc.record_fetched(image_id, doc, chain)
        for tag in tags:
            ref = refs.parse(tag).with_default_tag()
            old = svc.meta.tag_target(str(ref))
            if old and old != image_id:
                lines.append(f"The image {ref.familiar()} already exists, renaming the old one with ID {old} "
                             "to empty string")
            svc.tag_id(str(ref), image_id)
            lines.append(f"Loaded image: {ref.familiar()}")
    if not tags:
        lines.append(f"Loaded image ID: {image_id}")
    svc.emit("load", image_id, image_id)
    return lines
