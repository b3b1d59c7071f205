"""Content store (stores layer): blobs/sha256/<hex>; ingest writers make a blob visible only once verified."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from berth import errdefs
from berth.oci import digest as dg

__all__ = ["BlobFollower", "ContentStore", "ContentWriter", "Descriptor", "FollowAborted"]


@dataclass(frozen=True, slots=True)
class Descriptor:
    digest: str
    size: int
    media_type: str = ""


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FollowAborted(Exception):
    """The blob being followed was not committed (a failed or interrupted write): read it again from the store."""


class BlobFollower:
    """Reads a blob while its writer is still writing it; the end of the data comes only once the writer
    committed the blob (digest verified), an aborted write raises FollowAborted in the reader."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._file: BinaryIO | None = None
        self._written = 0
        self._pos = 0
        self._state = ""  # "", "attached", "done", "failed", "closed"

    # writer side
    def attach(self, path: str) -> None:
        with self._cond:
            if self._state == "":
                self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed in close)
                self._state = "attached"
                self._cond.notify_all()

    def advance(self, written: int) -> None:
        with self._cond:
            self._written = written
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            if self._state == "attached":
                self._state = "done"
            self._cond.notify_all()

    def fail(self) -> None:
        with self._cond:
            if self._state in ("", "attached"):
                self._state = "failed"
            self._cond.notify_all()

    # reader side
    def wait_attached(self) -> bool:
        """True once a writer streams into this follower; False when none will (the blob came otherwise)."""
        with self._cond:
            while self._state == "":
                self._cond.wait()
            return self._file is not None

    def read(self, n: int = -1, /) -> bytes:
        with self._cond:
            while self._state == "attached" and self._pos >= self._written:
                self._cond.wait()
            if self._state in ("failed", "closed") or self._file is None:
                raise FollowAborted("the blob was not committed")
            avail = self._written - self._pos
            f = self._file
        if avail <= 0:
            return b""
        data = f.read(avail if n < 0 else min(n, avail))
        self._pos += len(data)
        return data

    def close(self) -> None:
        """Reader side done (or given up): no writer waits on it, the file is closed."""
        with self._cond:
            if self._state in ("", "attached"):
                self._state = "closed"
            if self._file is not None:
                self._file.close()
            self._cond.notify_all()


class ContentWriter:
    """Writes one blob under ingest/; `commit` verifies the digest and only then moves it into blobs/."""

    def __init__(self, store: ContentStore, follower: BlobFollower | None = None) -> None:
        self._store = store
        self._hash = hashlib.sha256()
        self.size = 0
        self.path = os.path.join(store.ingest_dir, uuid.uuid4().hex)
        self._file: BinaryIO | None = open(self.path, "xb")  # noqa: SIM115 (closed in commit/abort)
        self.committed: Descriptor | None = None
        self._follower = follower
        if follower is not None:
            follower.attach(self.path)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def write(self, data: bytes) -> None:
        if self._file is None:
            raise errdefs.System("content writer is closed")
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        if self._follower is not None:
            self._file.flush()
            self._follower.advance(self.size)

    def flush(self) -> None:
        """Written bytes reach the file (for a reader of `path`)."""
        if self._file is not None:
            self._file.flush()

    def commit(self, expected: str | None = None, media_type: str = "") -> Descriptor:
        """Verify against `expected` (when given), then publish the blob; the writer is done after this."""
        if self._file is None:
            raise errdefs.System("content writer is closed")
        actual = self.digest
        if expected is not None and expected != actual:
            self.abort()
            raise errdefs.InvalidParameter(f"digest mismatch: expected {expected}, got {actual}")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        target = self._store.path(actual)
        os.chmod(self.path, 0o444)
        os.replace(self.path, target)
        _fsync_dir(os.path.dirname(target))
        self.committed = Descriptor(actual, self.size, media_type)
        if self._follower is not None:
            self._follower.finish()
        return self.committed

    def abort(self) -> None:
        """Drop what was written; safe to call more than once and after commit."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._follower is not None and self.committed is None:
            self._follower.fail()
        if self.committed is None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> ContentWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class ContentStore:
    """Blobs by digest under `root` (= <data-root>/content)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs_dir = os.path.join(root, "blobs", "sha256")
        self.ingest_dir = os.path.join(root, "ingest")
        os.makedirs(self.blobs_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.ingest_dir, mode=0o700, exist_ok=True)

    def writer(self, follower: BlobFollower | None = None) -> ContentWriter:
        return ContentWriter(self, follower)

    def ingest_bytes(self, data: bytes, expected: str | None = None) -> str:
        with self.writer() as w:
            w.write(data)
            return w.commit(expected).digest

    def path(self, digest: str) -> str:
        try:
            return os.path.join(self.blobs_dir, dg.hex_of(digest))
        except ValueError as exc:
            raise errdefs.InvalidParameter(str(exc)) from None

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise errdefs.NotFound(f"content {digest}: not found") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise errdefs.NotFound(f"content {digest}: not found") from None

    def read_bytes(self, digest: str) -> bytes:
        """The whole blob, verified against its digest (for small blobs: configs, manifests)."""
        with self.open(digest) as f:
            data = f.read()
        if dg.sha256(data) != digest:
            raise errdefs.System(f"content {digest}: stored blob is corrupt")
        return data

    def delete(self, digest: str) -> bool:
        try:
            os.unlink(self.path(digest))
            return True
        except FileNotFoundError:
            return False

    def walk(self) -> Iterator[Descriptor]:
        for name in sorted(os.listdir(self.blobs_dir)):
            full = os.path.join(self.blobs_dir, name)
            try:
                yield Descriptor(f"sha256:{name}", os.stat(full).st_size)
            except FileNotFoundError:
                continue

    def clean_ingest(self) -> None:
        """Remove writers left by a crash (call at startup, when no writer is active)."""
        for name in os.listdir(self.ingest_dir):
            try:
                os.unlink(os.path.join(self.ingest_dir, name))
            except OSError:
                pass
