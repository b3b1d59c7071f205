"""Metadata store (stores layer): sqlite (WAL) tables for images, tags and snapshot records."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ImageRecord", "MetadataStore", "SnapshotRecord"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, chain_id TEXT, parent TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL,
    size INTEGER NOT NULL, last_tag_ns INTEGER NOT NULL DEFAULT 0, labels TEXT NOT NULL DEFAULT 'null'
);
CREATE TABLE IF NOT EXISTS tags (ref TEXT PRIMARY KEY, image_id TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS snapshots (
    key TEXT PRIMARY KEY, n INTEGER UNIQUE NOT NULL, kind TEXT NOT NULL, parent TEXT, short TEXT NOT NULL,
    diff_id TEXT, blob TEXT, size INTEGER NOT NULL DEFAULT 0, created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent);
"""


@dataclass(frozen=True, slots=True)
class ImageRecord:
    id: str
    chain_id: str | None
    created_ns: int
    size: int
    parent: str = ""
    last_tag_ns: int = 0
    labels: dict[str, str] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    key: str
    n: int
    kind: str  # "committed" (a layer, keyed by chain id) or "active" (a container's rw layer)
    parent: str | None
    short: str
    diff_id: str | None
    blob: str | None
    size: int
    created_ns: int


def _image(row: sqlite3.Row) -> ImageRecord:
    return ImageRecord(row["id"], row["chain_id"], row["created_ns"], row["size"], row["parent"],
                       row["last_tag_ns"], json.loads(row["labels"]))


def _snapshot(row: sqlite3.Row) -> SnapshotRecord:
    return SnapshotRecord(row["key"], row["n"], row["kind"], row["parent"], row["short"], row["diff_id"],
                          row["blob"], row["size"], row["created_ns"])


class MetadataStore:
    """One sqlite connection shared by the daemon's threads, serialized by a lock."""

    def __init__(self, path: str) -> None:
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._depth = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all (re-entrant)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    # -- images ---------------------------------------------------------------------------------
    def put_image(self, rec: ImageRecord) -> None:
        self._exec(
            "INSERT OR REPLACE INTO images (id, chain_id, parent, created_ns, size, last_tag_ns, labels)"
            " VALUES (?,?,?,?,?,?,?)",
            (rec.id, rec.chain_id, rec.parent, rec.created_ns, rec.size, rec.last_tag_ns,
             json.dumps(rec.labels)),
        )

    def get_image(self, image_id: str) -> ImageRecord | None:
        rows = self._all("SELECT * FROM images WHERE id=?", (image_id,))
        return _image(rows[0]) if rows else None

    def images(self) -> list[ImageRecord]:
        return [_image(r) for r in self._all("SELECT * FROM images ORDER BY created_ns DESC, id")]

    def image_ids_with_prefix(self, hex_prefix: str) -> list[str]:
        pattern = "sha256:" + hex_prefix.replace("%", "").replace("_", "") + "%"
        return [r["id"] for r in self._all("SELECT id FROM images WHERE id LIKE ?", (pattern,))]

    def delete_image(self, image_id: str) -> None:
        self._exec("DELETE FROM images WHERE id=?", (image_id,))

    def set_last_tag(self, image_id: str, ns: int) -> None:
        self._exec("UPDATE images SET last_tag_ns=? WHERE id=?", (ns, image_id))

    def images_using_chain(self, chain_id: str) -> list[str]:
        return [r["id"] for r in self._all("SELECT id FROM images WHERE chain_id=?", (chain_id,))]

    def children(self, image_id: str) -> list[str]:
        return [r["id"] for r in self._all("SELECT id FROM images WHERE parent=?", (image_id,))]

    # -- tags -----------------------------------------------------------------------------------
    def set_tag(self, ref: str, image_id: str) -> str | None:
        """Point `ref` at `image_id`; returns the image it pointed at before (if another)."""
        with self.transaction():
            rows = self._all("SELECT image_id FROM tags WHERE ref=?", (ref,))
            seq = self._all("SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM tags")[0]["s"]
            self._exec("INSERT OR REPLACE INTO tags (ref, image_id, seq) VALUES (?,?,?)",
                       (ref, image_id, seq))
        previous = rows[0]["image_id"] if rows else None
        return previous if previous != image_id else None

    def tag_target(self, ref: str) -> str | None:
        rows = self._all("SELECT image_id FROM tags WHERE ref=?", (ref,))
        return rows[0]["image_id"] if rows else None

    def delete_tag(self, ref: str) -> bool:
        return self._exec("DELETE FROM tags WHERE ref=?", (ref,)) > 0

    def refs_of(self, image_id: str) -> list[str]:
        rows = self._all("SELECT ref FROM tags WHERE image_id=? ORDER BY seq", (image_id,))
        return [r["ref"] for r in rows]

    def all_refs(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self._all("SELECT ref, image_id FROM tags ORDER BY seq"):
            out.setdefault(r["image_id"], []).append(r["ref"])
        return out

    # -- snapshots ------------------------------------------------------------------------------
    def next_snapshot_n(self) -> int:
        return int(self._all("SELECT COALESCE(MAX(n), 0) + 1 AS n FROM snapshots")[0]["n"])

    def insert_snapshot(self, rec: SnapshotRecord) -> bool:
        """Insert unless the key exists; returns whether this call inserted it."""
        return self._exec(
            "INSERT OR IGNORE INTO snapshots (key, n, kind, parent, short, diff_id, blob, size, created_ns)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (rec.key, rec.n, rec.kind, rec.parent, rec.short, rec.diff_id, rec.blob, rec.size,
             rec.created_ns),
        ) > 0

    def get_snapshot(self, key: str) -> SnapshotRecord | None:
        rows = self._all("SELECT * FROM snapshots WHERE key=?", (key,))
        return _snapshot(rows[0]) if rows else None

    def snapshots(self) -> list[SnapshotRecord]:
        return [_snapshot(r) for r in self._all("SELECT * FROM snapshots ORDER BY n")]

    def snapshot_children(self, key: str) -> list[str]:
        return [r["key"] for r in self._all("SELECT key FROM snapshots WHERE parent=?", (key,))]

    def snapshots_with_blob(self, blob: str) -> list[str]:
        return [r["key"] for r in self._all("SELECT key FROM snapshots WHERE blob=?", (blob,))]

    def set_snapshot_blob(self, key: str, blob: str) -> None:
        self._exec("UPDATE snapshots SET blob=? WHERE key=?", (blob, key))

    def delete_snapshot(self, key: str) -> bool:
        return self._exec("DELETE FROM snapshots WHERE key=?", (key,)) > 0
