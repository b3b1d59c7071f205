"""Registry storage: blobs in Berth's content store, repository links, tags and referrers in sqlite (WAL)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from berth.store.content import ContentStore, ContentWriter

__all__ = ["ManifestRecord", "RegistryStore", "hash_file"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (repo TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (repo, digest));
CREATE TABLE IF NOT EXISTS manifests (
    repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,
    subject TEXT, artifact_type TEXT, annotations TEXT, PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject);
CREATE TABLE IF NOT EXISTS tags (repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (repo, tag));
CREATE TABLE IF NOT EXISTS aliases (digest TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    digest: str
    media_type: str
    size: int
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


def hash_file(path: str, algo: str) -> str:
    """`algo:<hex>` of a file's content."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return f"{algo}:{h.hexdigest()}"


class RegistryStore:
    """Everything a registry keeps under `--root`: `content/` (blobs by sha256) and `registry.db`."""

    def __init__(self, root: str) -> None:
        os.makedirs(root, mode=0o700, exist_ok=True)
        self.root = root
        self.content = ContentStore(os.path.join(root, "content"))
        self.content.clean_ingest()  # uploads cut off by a crash never became visible: drop them
        self._lock = threading.RLock()
        self._db = sqlite3.connect(os.path.join(root, "registry.db"), isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- content ----------------------------------------------------------------------------------
    def sha256_of(self, digest: str) -> str | None:
        """The content store key of `digest` (sha512 digests go through the alias table)."""
        if digest.startswith("sha256:"):
            return digest
        rows = self._rows("SELECT sha256 FROM aliases WHERE digest=?", digest)
        return rows[0]["sha256"] if rows else None

    def blob_path(self, digest: str) -> str | None:
        key = self.sha256_of(digest)
        if key is None:
            return None
        path = self.content.path(key)
        return path if os.path.exists(path) else None

    def writer(self) -> ContentWriter:
        return self.content.writer()

    def add_alias(self, digest: str, sha256: str) -> None:
        if digest != sha256:
            with self._tx() as db:
                db.execute("INSERT OR REPLACE INTO aliases VALUES (?,?)", (digest, sha256))

    def ingest_bytes(self, data: bytes, digest: str) -> None:
        """Store small content (a manifest) and, for a sha512 digest, its alias."""
        key = self.content.ingest_bytes(data)
        self.add_alias(digest, key)

    def read(self, digest: str) -> bytes:
        key = self.sha256_of(digest)
        if key is None:
            raise FileNotFoundError(digest)
        return self.content.read_bytes(key)

    # -- repository links -------------------------------------------------------------------------
    def link_blob(self, repo: str, digest: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO blobs VALUES (?,?)", (repo, digest))

    def has_blob(self, repo: str, digest: str) -> bool:
        """The repository holds `digest` as a blob (or as a manifest: those are blobs too)."""
        if not self._rows("SELECT 1 FROM blobs WHERE repo=? AND digest=? UNION "
                          "SELECT 1 FROM manifests WHERE repo=? AND digest=?", repo, digest, repo, digest):
            return False
        return self.blob_path(digest) is not None

    def blob_known_anywhere(self, digest: str) -> bool:
        return bool(self._rows("SELECT 1 FROM blobs WHERE digest=? LIMIT 1", digest)) and \
            self.blob_path(digest) is not None

    def unlink_blob(self, repo: str, digest: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM blobs WHERE repo=? AND digest=?", (repo, digest)).rowcount > 0

    def repo_exists(self, repo: str) -> bool:
        return bool(self._rows("SELECT 1 FROM blobs WHERE repo=? UNION SELECT 1 FROM manifests WHERE repo=? "
                               "UNION SELECT 1 FROM tags WHERE repo=? LIMIT 1", repo, repo, repo))

    def repositories(self) -> list[str]:
        rows = self._rows("SELECT repo FROM blobs UNION SELECT repo FROM manifests UNION SELECT repo FROM tags "
                          "ORDER BY 1")
        return [r["repo"] for r in rows]

    # -- manifests and tags -----------------------------------------------------------------------
    def put_manifest(self, repo: str, rec: ManifestRecord, tags: list[str]) -> None:
        annotations = json.dumps(rec.annotations) if rec.annotations else None
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO manifests VALUES (?,?,?,?,?,?,?)",
                       (repo, rec.digest, rec.media_type, rec.size, rec.subject, rec.artifact_type, annotations))
            for tag in tags:
                db.execute("INSERT OR REPLACE INTO tags VALUES (?,?,?)", (repo, tag, rec.digest))

    def manifest(self, repo: str, digest: str) -> ManifestRecord | None:
        rows = self._rows("SELECT * FROM manifests WHERE repo=? AND digest=?", repo, digest)
        if not rows:
            return None
        r = rows[0]
        annotations = json.loads(r["annotations"]) if r["annotations"] else None
        return ManifestRecord(r["digest"], r["media_type"], r["size"], r["subject"], r["artifact_type"],
                              annotations)

    def tag_digest(self, repo: str, tag: str) -> str | None:
        rows = self._rows("SELECT digest FROM tags WHERE repo=? AND tag=?", repo, tag)
        return rows[0]["digest"] if rows else None

    def tags(self, repo: str) -> list[str]:
        return [r["tag"] for r in self._rows("SELECT tag FROM tags WHERE repo=? ORDER BY tag", repo)]

    def delete_tag(self, repo: str, tag: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM tags WHERE repo=? AND tag=?", (repo, tag)).rowcount > 0

    def delete_manifest(self, repo: str, digest: str) -> bool:
        """Remove the manifest and every tag that points at it, in one transaction."""
        with self._tx() as db:
            db.execute("DELETE FROM tags WHERE repo=? AND digest=?", (repo, digest))
            return db.execute("DELETE FROM manifests WHERE repo=? AND digest=?", (repo, digest)).rowcount > 0

    def linked_digests(self) -> list[str]:
        """Every digest some repository holds (blobs and manifests): what garbage collection keeps."""
        return [r["digest"] for r in self._rows("SELECT digest FROM blobs UNION SELECT digest FROM manifests")]

    def drop_dangling_aliases(self, live: set[str]) -> None:
        with self._tx() as db:
            for row in db.execute("SELECT digest, sha256 FROM aliases").fetchall():
                if row["sha256"] not in live:
                    db.execute("DELETE FROM aliases WHERE digest=?", (row["digest"],))

    def referrers(self, repo: str, subject: str) -> list[ManifestRecord]:
        rows = self._rows("SELECT * FROM manifests WHERE repo=? AND subject=? ORDER BY digest", repo, subject)
        return [ManifestRecord(r["digest"], r["media_type"], r["size"], r["subject"], r["artifact_type"],
                               json.loads(r["annotations"]) if r["annotations"] else None) for r in rows]
