"""Manifest, tag list, catalog and referrers endpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from berth.api.http.request import Request
from berth.api.http.responses import EmptyResponse, JSONResponse, RawResponse, Response
from berth.oci import mediatypes as mt
from berth.registry.errors import RegistryError
from berth.registry.manifests import MAX_MANIFEST, digest_of, parse_manifest
from berth.registry.names import check_digest, check_tag
from berth.registry.storage import ManifestRecord, RegistryStore

__all__ = ["ContentHandlers"]


def _page(items: list[str], req: Request, base: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Apply `n` and `last` (lexical order); a Link header when more remain."""
    last = req.query.get("last")
    if last:
        items = [i for i in items if i > last]
    raw_n = req.query.get("n")
    if raw_n is None or raw_n == "":
        return items, []
    try:
        n = int(raw_n)
    except ValueError:
        raise RegistryError("PAGINATION_NUMBER_INVALID", "invalid number of results requested",
                            status=400) from None
    if n < 0:
        raise RegistryError("PAGINATION_NUMBER_INVALID", "invalid number of results requested", status=400)
    page = items[:n]
    if len(items) > n and page:
        link = f'<{base}?n={n}&last={quote(page[-1], safe="")}>; rel="next"'
        return page, [("Link", link)]
    return page, []


@dataclass
class ContentHandlers:
    store: RegistryStore
    delete_enabled: bool = True

    def _resolve(self, name: str, ref: str) -> ManifestRecord:
        if ":" in ref:
            check_digest(ref)
            digest: str | None = ref
        else:
            digest = self.store.tag_digest(name, ref)
        rec = self.store.manifest(name, digest) if digest else None
        if rec is None:
            if not self.store.repo_exists(name):
                raise RegistryError("NAME_UNKNOWN", "repository name not known to registry", {"name": name})
            raise RegistryError("MANIFEST_UNKNOWN", "manifest unknown", {"reference": ref[:200]})
        return rec

    async def get_manifest(self, req: Request, name: str, ref: str) -> Response:
        rec = self._resolve(name, ref)
        headers = [("Docker-Content-Digest", rec.digest), ("ETag", f'"{rec.digest}"')]
        if req.method == "HEAD":
            return EmptyResponse(200, [*headers, ("Content-Type", rec.media_type),
                                       ("Content-Length", str(rec.size))])
        try:
            data = self.store.read(rec.digest)
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", "manifest unknown", {"reference": ref[:200]}) from None
        return RawResponse(data, rec.media_type, 200, headers)

    async def put_manifest(self, req: Request, name: str, ref: str) -> Response:
        declared = req.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_MANIFEST:
            raise self._too_big()
        chunks, size = [], 0
        async for chunk in req.body_stream():
            size += len(chunk)
            if size > MAX_MANIFEST:
                raise self._too_big()
            chunks.append(chunk)
        data = b"".join(chunks)
        tags = list(dict.fromkeys(req.query.getall("tag")))
        if ":" in ref:
            check_digest(ref)
            digest = digest_of(data, ref.split(":")[0])
            if digest != ref:
                raise RegistryError("DIGEST_INVALID", "provided digest did not match uploaded content",
                                    {"expected": ref, "actual": digest})
        else:
            tags.insert(0, ref)
            digest = digest_of(data)
        for tag in tags:
            check_tag(tag)
        rec = parse_manifest(data, req.headers.get("content-type") or "", digest,
                             lambda d: self.store.has_blob(name, d),
                             lambda d: self.store.manifest(name, d) is not None)
        self.store.ingest_bytes(data, digest)
        self.store.put_manifest(name, rec, tags)
        headers = [("Location", f"/v2/{name}/manifests/{digest}"), ("Docker-Content-Digest", digest),
                   ("Content-Length", "0")]
        if rec.subject:
            headers.append(("OCI-Subject", rec.subject))
        headers += [("OCI-Tag", t) for t in tags if t != ref]
        return EmptyResponse(201, headers)

    def _too_big(self) -> RegistryError:
        return RegistryError("MANIFEST_INVALID", f"manifest invalid: larger than {MAX_MANIFEST} bytes", status=413)

    async def delete_manifest(self, req: Request, name: str, ref: str) -> Response:
        if not self.delete_enabled:
            raise RegistryError("UNSUPPORTED", "the operation is unsupported: deletes are disabled")
        if ":" in ref:
            check_digest(ref)
            deleted = self.store.delete_manifest(name, ref)
        else:
            deleted = self.store.delete_tag(name, ref)
        if not deleted:
            raise RegistryError("MANIFEST_UNKNOWN", "manifest unknown", {"reference": ref[:200]})
        return EmptyResponse(202, [("Content-Length", "0")])

    async def tags(self, req: Request, name: str) -> Response:
        if not self.store.repo_exists(name):
            raise RegistryError("NAME_UNKNOWN", "repository name not known to registry", {"name": name})
        page, headers = _page(self.store.tags(name), req, f"/v2/{name}/tags/list")
        return JSONResponse({"name": name, "tags": page}, headers=headers)

    async def catalog(self, req: Request) -> Response:
        page, headers = _page(self.store.repositories(), req, "/v2/_catalog")
        return JSONResponse({"repositories": page}, headers=headers)

    async def referrers(self, req: Request, name: str, digest: str) -> Response:
        check_digest(digest)
        wanted = req.query.get("artifactType")
        manifests: list[dict[str, Any]] = []
        for rec in self.store.referrers(name, digest):
            if wanted and rec.artifact_type != wanted:
                continue
            desc: dict[str, Any] = {"mediaType": rec.media_type, "digest": rec.digest, "size": rec.size}
            if rec.artifact_type:
                desc["artifactType"] = rec.artifact_type
            if rec.annotations:
                desc["annotations"] = rec.annotations
            manifests.append(desc)
        body = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests},
                          separators=(",", ":")).encode()
        headers = [("OCI-Filters-Applied", "artifactType")] if wanted else []
        return RawResponse(body, mt.OCI_INDEX, 200, headers)

