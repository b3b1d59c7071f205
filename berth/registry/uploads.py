"""Blob upload sessions: an ingest writer per session, offsets, size limits and digest verification."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from berth import errdefs
from berth.registry.errors import RegistryError
from berth.registry.storage import RegistryStore, hash_file
from berth.store.content import ContentWriter

__all__ = ["UploadSession", "Uploads"]


@dataclass
class UploadSession:
    id: str
    repo: str
    writer: ContentWriter
    started: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def offset(self) -> int:
        return self.writer.size

    def range_header(self) -> str:
        """Distribution's `Range: 0-<last byte>` (0-0 before the first byte)."""
        return f"0-{max(self.offset - 1, 0)}"


class Uploads:
    """The open sessions of one server (in memory: a restarted server forgets them, as the spec allows)."""

    def __init__(self, store: RegistryStore, max_blob: int, ttl: float = 3600.0) -> None:
        self.store = store
        self.max_blob = max_blob
        self.ttl = ttl
        self._sessions: dict[str, UploadSession] = {}

    def start(self, repo: str) -> UploadSession:
        self._expire()
        session = UploadSession(uuid.uuid4().hex, repo, self.store.writer())
        self._sessions[session.id] = session
        return session

    def get(self, repo: str, upload_id: str) -> UploadSession:
        session = self._sessions.get(upload_id)
        if session is None or session.repo != repo:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", {"uuid": upload_id[:80]})
        return session

    def cancel(self, session: UploadSession) -> None:
        self._sessions.pop(session.id, None)
        session.writer.abort()

    def _expire(self) -> None:
        now = time.monotonic()
        for session in [s for s in self._sessions.values() if now - s.started > self.ttl and not s.lock.locked()]:
            self.cancel(session)

    def close(self) -> None:
        for session in list(self._sessions.values()):
            self.cancel(session)

    async def append(self, session: UploadSession, body: AsyncIterator[bytes], declared: int | None) -> None:
        """Write the body at the session's end; a blob over the limit cancels the session (413)."""
        if declared is not None and session.offset + declared > self.max_blob:
            self.cancel(session)
            raise self._too_big()
        async for chunk in body:
            if session.offset + len(chunk) > self.max_blob:
                self.cancel(session)
                raise self._too_big()
            session.writer.write(chunk)

    def _too_big(self) -> RegistryError:
        return RegistryError("SIZE_INVALID", f"blob exceeds the registry's limit of {self.max_blob} bytes",
                             status=413)

    async def finish(self, session: UploadSession, digest: str) -> None:
        """Verify the digest and publish the blob; the session ends whatever the outcome."""
        self._sessions.pop(session.id, None)
        writer = session.writer
        try:
            if digest.startswith("sha256:"):
                await asyncio.to_thread(writer.commit, digest)
                return
            desc = await asyncio.to_thread(writer.commit, None)
            actual = await asyncio.to_thread(hash_file, self.store.content.path(desc.digest), digest.split(":")[0])
            if actual != digest:
                raise RegistryError("DIGEST_INVALID", "provided digest did not match uploaded content",
                                    {"expected": digest, "actual": actual})
            self.store.add_alias(digest, desc.digest)
        except errdefs.InvalidParameter:
            raise RegistryError("DIGEST_INVALID", "provided digest did not match uploaded content",
                                {"expected": digest, "actual": writer.digest}) from None
        finally:
            writer.abort()
