"""`docker pull` (services layer): manifest, platform, concurrent verified downloads, ordered unpack, record."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import lzma
import threading
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx

from berth import errdefs
from berth.daemon.images import refs, remove
from berth.daemon.images.jsonprogress import progress
from berth.daemon.images.registry import Cancelled, Emit, RegistryService, connection_error
from berth.distribution import manifests
from berth.distribution.auth import Credentials
from berth.distribution.client import FetchedManifest, RegistryClient
from berth.distribution.errors import RegistryError
from berth.distribution.fetch import fetch_blob, fetch_small
from berth.oci import digest as dg
from berth.store.compression import DecompressingReader
from berth.store.content import BlobFollower, FollowAborted

if TYPE_CHECKING:
    from berth.daemon.images.service import ImagesService

__all__ = ["pull"]

REPORT_EVERY = 0.1
RETRIES = 3


class _Throttle:
    """Progress reports at most every REPORT_EVERY seconds (and always the last one)."""

    def __init__(self, report: Callable[[int], None]) -> None:
        self.report = report
        self.last = 0.0

    def __call__(self, current: int, final: bool = False) -> None:
        now = time.monotonic()
        if final or now - self.last >= REPORT_EVERY:
            self.last = now
            self.report(current)


class _CountingReader:
    def __init__(self, f: BinaryIO, report: _Throttle) -> None:
        self.f, self.report, self.count = f, report, 0

    def read(self, n: int = -1, /) -> bytes:
        data = self.f.read(n)
        self.count += len(data)
        self.report(self.count)
        return data


def pull(reg: RegistryService, ref: refs.Reference, platform: str, creds: Credentials, emit: Emit) -> None:
    """Pull `ref` (a tag, a digest, or every tag of a repository when it has neither)."""
    want = manifests.parse_platform(platform)
    errors: list[Exception] = []
    for base in reg.endpoints(ref.domain):
        try:
            with reg.client(base, creds) as client:
                _pull_from(reg, client, ref, want, emit, bool(platform))
            return
        except (RegistryError, httpx.HTTPError) as exc:
            errors.append(exc)
            if isinstance(exc, RegistryError) and base == reg.endpoints(ref.domain)[-1]:
                raise _translate(exc, ref) from None
    last = errors[-1]
    if isinstance(last, RegistryError):
        raise _translate(last, ref)
    raise _http_error(last)


def _http_error(exc: Exception) -> errdefs.BerthError:
    req = getattr(exc, "request", None)
    url = str(req.url) if req is not None else "registry"
    method = req.method if req is not None else "GET"
    return connection_error(method, url, exc)


def _translate(exc: RegistryError, ref: refs.Reference) -> errdefs.BerthError:
    if exc.code == "MANIFEST_UNKNOWN":
        return errdefs.NotFound(f"manifest for {ref.familiar()} not found: {exc.text()}")
    if exc.code == "NAME_UNKNOWN":
        return errdefs.NotFound(f"repository {ref.familiar_name()} not found: {exc.text()}")
    if exc.code == "DENIED":
        return errdefs.NotFound(f"pull access denied for {ref.familiar_name()}, repository does not exist or "
                                f"may require 'docker login': {exc.text()}")
    if exc.code == "UNAUTHORIZED":
        return errdefs.System(exc.text())
    if exc.status == 404:
        return errdefs.NotFound(exc.text())
    return errdefs.System(exc.text())


def _pull_from(reg: RegistryService, client: RegistryClient, ref: refs.Reference, want: manifests.Platform,
               emit: Emit, explicit: bool) -> None:
    if ref.tag or ref.digest:
        changed = _pull_one(reg, client, ref, want, emit, explicit)
        _status(emit, ref.familiar(), changed)
        return
    changed = False
    for tag in client.tags(ref.path):
        changed = _pull_one(reg, client, refs.Reference(ref.domain, ref.path, tag), want, emit, explicit) or changed
    _status(emit, ref.familiar_name(), changed)


def _status(emit: Emit, name: str, changed: bool) -> None:
    text = "Downloaded newer image for " if changed else "Image is up to date for "
    emit({"status": "Status: " + text + name})


def _resolve(client: RegistryClient, ref: refs.Reference, want: manifests.Platform
             ) -> tuple[FetchedManifest, FetchedManifest, dict[str, Any]]:
    """(what the reference names, the image manifest for `want`, that manifest's document)."""
    top = client.get_manifest(ref.path, ref.digest or ref.tag or "latest")
    kind, doc = manifests.parse(top.raw, top.media_type)
    if not manifests.is_index(kind):
        return top, FetchedManifest(top.raw, kind, top.digest), doc
    entry = manifests.choose(doc, want)
    image = client.get_manifest(ref.path, str(entry["digest"]))
    kind, doc = manifests.parse(image.raw, image.media_type or str(entry.get("mediaType") or ""))
    if manifests.is_index(kind):
        raise errdefs.InvalidParameter("nested manifest lists are not supported")
    return top, FetchedManifest(image.raw, kind, image.digest), doc


class _Job:
    """One image pull: downloads in parallel (bounded daemon-wide), unpacks in layer order."""

    def __init__(self, reg: RegistryService, client: RegistryClient, repo: str, emit: Emit) -> None:
        self.reg, self.client, self.repo, self.emit = reg, client, repo, emit
        self.svc: ImagesService = reg.images
        self.downloaded: list[str] = []
        self.created: list[str] = []

    def note(self, msg: dict[str, Any]) -> None:
        """Download progress: a client gone does not stop a download other pulls may share."""
        try:
            self.emit(msg)
        except Cancelled:
            pass

    def ensure(self, digest: str, size: int, lid: str | None, follower: BlobFollower | None = None) -> None:
        """The blob is in the store when this returns (downloaded here, or by a concurrent pull)."""
        store = self.svc.content
        while not store.has(digest):
            fut, owner = self.reg.claim(digest)
            if owner:
                break
            if lid:
                self.note(progress("Waiting", lid))
            fut.result()  # and once more when a failed owner's cleanup took the blob away
        else:
            return
        exc: BaseException | None = None
        try:
            if not self.reg.downloads.acquire(blocking=False):
                if lid:
                    self.note(progress("Waiting", lid))
                self.reg.downloads.acquire()
            try:
                self.reg.dist.lease(digest)
                self._fetch(digest, size, lid, follower)
                self.downloaded.append(digest)
                self.reg.dist.add_source(digest, self.client.base_url + "/" + self.repo)
            finally:
                self.reg.downloads.release()
        except BaseException as e:
            exc = e
            raise
        finally:
            self.reg.finish(digest, fut, exc)

    def _fetch(self, digest: str, size: int, lid: str | None, follower: BlobFollower | None) -> None:
        """Download with docker's retries: transport failures are retried after 1, 2, 4 s."""
        report = _Throttle(lambda n: self.note(progress("Downloading", lid, n, size))) if lid else None
        for attempt in range(RETRIES + 1):
            try:
                fetch_blob(self.client, self.repo, digest, size, self.svc.content, report,
                           follower if attempt == 0 else None)
                break
            except httpx.TransportError:
                if attempt == RETRIES:
                    raise
                delay = 1 << attempt
                if lid:
                    self.note(progress(f"Retrying in {delay} second{'s' if delay > 1 else ''}", lid))
                threading.Event().wait(delay)  # a worker thread, never the event loop
        if report is not None:
            report(size, final=True)

    def download(self, layer: manifests.Layer, follower: BlobFollower | None = None) -> None:
        lid = dg.short_id(layer.digest)
        try:
            self.ensure(layer.digest, layer.size, lid, follower)
        finally:
            if follower is not None:
                follower.fail()  # no-op once the blob committed; else its reader stops waiting
        self.note(progress("Verifying Checksum", lid))
        self.note(progress("Download complete", lid))

    def unpack_streaming(self, layer: manifests.Layer, parent: str | None, diff_id: str,
                         follower: BlobFollower, downloaded: concurrent.futures.Future[None]) -> str:
        """Unpack while the blob downloads; from the store when the stream is not available or was cut."""
        try:
            if follower.wait_attached():
                return self.unpack(layer, parent, diff_id, follower, downloaded)
        except FollowAborted:
            pass  # a retried or failed download: the outcome of the download decides
        finally:
            follower.close()
        downloaded.result()
        return self.unpack(layer, parent, diff_id)

    def unpack(self, layer: manifests.Layer, parent: str | None, diff_id: str, source: BlobFollower | None = None,
               downloaded: concurrent.futures.Future[None] | None = None) -> str:
        lid = dg.short_id(layer.digest)
        chain = dg.chain_id(parent, diff_id)

        def verify(got: str) -> None:
            if got != diff_id:
                raise errdefs.InvalidParameter(
                    f"failed to register layer: layer {layer.digest} has diff id {got}, "
                    f"the image config says {diff_id}")

        with self.reg.unpack_lock(chain):
            if self.svc.snapshots.exists(chain):
                if downloaded is not None:
                    downloaded.result()
                self.emit(progress("Pull complete", lid))
                return chain
            report = _Throttle(lambda n: self.emit(progress("Extracting", lid, n, layer.size)))
            with contextlib.ExitStack() as stack:
                f = source if source is not None else stack.enter_context(self.svc.content.open(layer.digest))
                try:
                    reader = stack.enter_context(DecompressingReader(_CountingReader(f, report)))  # type: ignore[arg-type]
                    applied = self.svc.snapshots.apply_layer(parent, reader, verify=verify)
                except (ValueError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
                    raise errdefs.InvalidParameter(f"failed to register layer: {exc}") from None
            report(layer.size, final=True)
            if applied.new:
                self.created.append(applied.chain_id)
            verify(applied.diff_id)
            if downloaded is not None:
                downloaded.result()
            with self.svc.lock:
                if applied.new:
                    self.svc.snapshots.set_blob(chain, layer.digest)
            self.reg.dist.add_compressed(diff_id, layer.digest, layer.media_type, layer.size)
        self.emit(progress("Pull complete", lid))
        return chain

    def cleanup(self) -> None:
        """After a failure: no layer, no blob of this pull stays visible."""
        with self.svc.lock:
            for chain in reversed(self.created):
                remove.release_chain(self.svc, chain)
            users = {r.blob for r in self.svc.meta.snapshots() if r.blob}
            images = {r.id for r in self.svc.meta.images()}
            for digest in self.downloaded:
                if self.reg.take_waited(digest):
                    continue  # another pull waited for this download and uses the blob now
                if digest not in users and digest not in images:
                    self.svc.content.delete(digest)
        for digest in self.downloaded:
            self.reg.dist.release(digest)


def _check_platform(ref: refs.Reference, want: manifests.Platform, cfg: dict[str, Any], explicit: bool) -> None:
    """A single-platform image must match an explicit --platform (moby's check)."""
    have = manifests.Platform(str(cfg.get("os") or ""), str(cfg.get("architecture") or ""),
                              str(cfg.get("variant") or ""))
    if explicit and (have.os, have.architecture) != (want.os, want.architecture):
        raise errdefs.NotFound(f"image with reference {ref.familiar()} was found but its platform ({have}) "
                               f"does not match the specified platform ({want})")


def _pull_one(reg: RegistryService, client: RegistryClient, ref: refs.Reference, want: manifests.Platform,
              emit: Emit, explicit: bool = False) -> bool:
    """One tag or digest; returns whether anything changed (layers downloaded or the reference moved)."""
    top, image, doc = _resolve(client, ref, want)
    config_desc, layers = manifests.image_manifest(doc)
    emit({"status": f"Pulling from {ref.path}", "id": ref.tag or ref.digest})
    job = _Job(reg, client, ref.path, emit)
    svc = reg.images
    try:
        config_digest = str(config_desc["digest"])
        job.ensure(config_digest, int(config_desc.get("size") or 0), None)
        raw = fetch_small(client, ref.path, config_digest, int(config_desc.get("size") or 0), svc.content)
        cfg = json.loads(raw)
        _check_platform(ref, want, cfg, explicit)
        diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids") or [])
        if len(diff_ids) != len(layers):
            raise errdefs.InvalidParameter("invalid image: the config's diff ids do not match the manifest's layers")
        chains = dg.chain_ids(diff_ids)
        missing = [i for i, c in enumerate(chains) if not svc.snapshots.exists(c)]
        first_missing = missing[0] if missing else len(layers)
        for i, layer in enumerate(layers):
            if i < first_missing:
                emit(progress("Already exists", dg.short_id(layer.digest)))
        todo = list(range(first_missing, len(layers)))
        for i in todo:
            emit(progress("Pulling fs layer", dg.short_id(layers[i].digest)))
        parent = chains[first_missing - 1] if first_missing else None
        if todo:
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(todo), 16),
                                                       thread_name_prefix="pull") as pool:
                follower = BlobFollower()  # the first layer unpacks while it downloads
                futures = {i: pool.submit(job.download, layers[i], follower if i == todo[0] else None)
                           for i in todo}
                try:
                    parent = job.unpack_streaming(layers[todo[0]], parent, diff_ids[todo[0]], follower,
                                                  futures[todo[0]])
                    for i in todo[1:]:
                        futures[i].result()
                        parent = job.unpack(layers[i], parent, diff_ids[i])
                except BaseException:
                    for f in futures.values():
                        f.cancel()
                    raise
        changed = _record(reg, ref, top, image, raw, cfg, parent) or bool(job.downloaded)
    except BaseException:
        job.cleanup()
        raise
    for digest in job.downloaded:
        reg.take_waited(digest)
        reg.dist.release(digest)
    emit({"status": f"Digest: {top.digest}"})
    return changed


def _record(reg: RegistryService, ref: refs.Reference, top: FetchedManifest, image: FetchedManifest,
            raw: bytes, cfg: dict[str, Any], chain: str | None) -> bool:
    """Store the manifest and the image record; tag it and record its RepoDigest. True if the tag moved."""
    svc = reg.images
    image_id = dg.sha256(raw)
    svc.content.ingest_bytes(image.raw, image.digest)
    named = refs.Reference(ref.domain, ref.path, None, ref.digest) if ref.digest else ref
    with svc.lock:
        svc.record_fetched(image_id, cfg, chain)
        old = svc.meta.tag_target(str(named))
        if old != image_id:
            svc.tag_id(str(named), image_id)
        digest_ref = f"{ref.name}@{top.digest}"
        if svc.meta.tag_target(digest_ref) != image_id:
            svc.meta.set_tag(digest_ref, image_id)
    reg.dist.set_manifest(image_id, ref.name, image.digest, image.media_type, len(image.raw))
    svc.emit("pull", named.familiar(), named.familiar())  # dockerd's actor is the reference
    return old != image_id
