"""Blob endpoints: GET/HEAD with ranges, DELETE, and uploads (monolithic, chunked, streamed, mounts)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from berth.api.http.request import Request
from berth.api.http.responses import EmptyResponse, Response, StreamResponse
from berth.registry.errors import RegistryError
from berth.registry.names import check_digest, check_name, is_digest
from berth.registry.storage import RegistryStore
from berth.registry.uploads import Uploads, UploadSession

__all__ = ["BlobHandlers"]

READ_CHUNK = 1 << 20
CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(\d+|\*))?$")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a `Range: bytes=a-b|a-|-n` header; RANGE_INVALID when unsatisfiable."""
    if not header:
        return None
    m = re.match(r"^bytes=(\d*)-(\d*)$", header.strip())
    unsatisfiable = RegistryError("RANGE_INVALID", "requested range not satisfiable", status=416,
                                  headers=[("Content-Range", f"bytes */{size}")])
    if not m or (not m.group(1) and not m.group(2)):
        raise unsatisfiable
    if not m.group(1):
        n = int(m.group(2))
        if n == 0 or size == 0:
            raise unsatisfiable
        return max(size - n, 0), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if start >= size or end < start:
        raise unsatisfiable
    return start, min(end, size - 1)


async def _file_chunks(path: str, start: int, length: int) -> AsyncIterator[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        pos, left = start, length
        while left > 0:
            chunk = os.pread(fd, min(READ_CHUNK, left), pos)
            if not chunk:
                return
            pos += len(chunk)
            left -= len(chunk)
            yield chunk
    finally:
        os.close(fd)


def _declared_length(req: Request) -> int | None:
    value = req.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        raise RegistryError("SIZE_INVALID", "invalid Content-Length") from None


@dataclass
class BlobHandlers:
    store: RegistryStore
    uploads: Uploads
    delete_enabled: bool = True

    def _location(self, name: str, session: UploadSession) -> str:
        return f"/v2/{name}/blobs/uploads/{session.id}"

    def _session_headers(self, name: str, session: UploadSession) -> list[tuple[str, str]]:
        return [("Location", self._location(name, session)), ("Range", session.range_header()),
                ("Docker-Upload-UUID", session.id), ("Content-Length", "0")]

    def _created(self, name: str, digest: str) -> Response:
        return EmptyResponse(201, [("Location", f"/v2/{name}/blobs/{digest}"), ("Docker-Content-Digest", digest),
                                   ("Content-Length", "0")])

    # -- pull ---------------------------------------------------------------------------------------
    async def get(self, req: Request, name: str, digest: str) -> Response:
        check_digest(digest)
        path = self.store.blob_path(digest) if self.store.has_blob(name, digest) else None
        if path is None:
            raise RegistryError("BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
        size = os.stat(path).st_size
        headers = [("Docker-Content-Digest", digest), ("Accept-Ranges", "bytes"), ("ETag", f'"{digest}"'),
                   ("Cache-Control", "max-age=31536000")]
        span = _byte_range(req.headers.get("range"), size) if req.method == "GET" else None
        status, start, length = 200, 0, size
        if span is not None:
            status, start, length = 206, span[0], span[1] - span[0] + 1
            headers.append(("Content-Range", f"bytes {span[0]}-{span[1]}/{size}"))
        headers.append(("Content-Length", str(length)))
        if req.method == "HEAD":
            return EmptyResponse(200, [*headers, ("Content-Type", "application/octet-stream")])
        return StreamResponse(_file_chunks(path, start, length), "application/octet-stream", status, headers)

    async def delete(self, req: Request, name: str, digest: str) -> Response:
        check_digest(digest)
        if not self.delete_enabled:
            raise RegistryError("UNSUPPORTED", "the operation is unsupported: deletes are disabled")
        if not self.store.unlink_blob(name, digest):
            raise RegistryError("BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
        return EmptyResponse(202, [("Content-Length", "0")])

    # -- push ---------------------------------------------------------------------------------------
    async def start(self, req: Request, name: str) -> Response:
        mount, source = req.query.get("mount"), req.query.get("from")
        if mount:
            check_digest(mount)
            if self._can_mount(mount, source):
                self.store.link_blob(name, mount)
                return self._created(name, mount)
        digest = req.query.get("digest")
        if digest is not None:
            check_digest(digest)
            session = self.uploads.start(name)
            await self.uploads.append(session, req.body_stream(), _declared_length(req))
            await self.uploads.finish(session, digest)
            self.store.link_blob(name, digest)
            return self._created(name, digest)
        session = self.uploads.start(name)
        return EmptyResponse(202, self._session_headers(name, session))

    def _can_mount(self, digest: str, source: str | None) -> bool:
        if source:
            try:
                check_name(source)
            except RegistryError:
                return False
            return self.store.has_blob(source, digest)
        return self.store.blob_known_anywhere(digest)

    async def status(self, req: Request, name: str, upload_id: str) -> Response:
        session = self.uploads.get(name, upload_id)
        return EmptyResponse(204, self._session_headers(name, session))

    async def cancel(self, req: Request, name: str, upload_id: str) -> Response:
        session = self.uploads.get(name, upload_id)
        self.uploads.cancel(session)
        return EmptyResponse(204)

    async def patch(self, req: Request, name: str, upload_id: str) -> Response:
        session = self.uploads.get(name, upload_id)
        async with session.lock:
            await self._write(req, name, session)
            return EmptyResponse(202, self._session_headers(name, session))

    async def _write(self, req: Request, name: str, session: UploadSession) -> None:
        declared = _declared_length(req)
        content_range = req.headers.get("content-range")
        if content_range:
            m = CONTENT_RANGE_RE.match(content_range.strip())
            if not m:
                raise RegistryError("BLOB_UPLOAD_INVALID", f"invalid Content-Range {content_range[:100]!r}",
                                    status=416, headers=self._session_headers(name, session))
            start, end = int(m.group(1)), int(m.group(2))
            if start != session.offset or end < start or (declared is not None and declared != end - start + 1):
                raise RegistryError("BLOB_UPLOAD_INVALID", "chunk is out of order or its range is wrong",
                                    {"offset": session.offset}, status=416,
                                    headers=self._session_headers(name, session))
        await self.uploads.append(session, req.body_stream(), declared)

    async def finish(self, req: Request, name: str, upload_id: str) -> Response:
        session = self.uploads.get(name, upload_id)
        async with session.lock:
            digest = req.query.get("digest")
            if not digest or not is_digest(digest):
                raise RegistryError("DIGEST_INVALID", "a valid digest query parameter is required",
                                    {"digest": (digest or "")[:200]})
            if _declared_length(req) or req.headers.get("content-range") or req.headers.get("transfer-encoding"):
                await self._write(req, name, session)
            await self.uploads.finish(session, digest)
        self.store.link_blob(name, digest)
        return self._created(name, digest)
