"""What the registry client remembers (distribution layer): where blobs came from, pulled manifests, leases."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

__all__ = ["DistributionStore", "LEASE_SECONDS"]

LEASE_SECONDS = 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (digest TEXT NOT NULL, repo TEXT NOT NULL, seen INTEGER NOT NULL,
                                    PRIMARY KEY (digest, repo));
CREATE TABLE IF NOT EXISTS manifests (image_id TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL,
                                      media_type TEXT NOT NULL, size INTEGER NOT NULL,
                                      PRIMARY KEY (image_id, repo));
CREATE TABLE IF NOT EXISTS compressed (diff_id TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL,
                                       size INTEGER NOT NULL, PRIMARY KEY (diff_id, digest));
CREATE TABLE IF NOT EXISTS leases (digest TEXT PRIMARY KEY, until INTEGER NOT NULL);
"""


class DistributionStore:
    """sqlite (WAL) at <data-root>/distribution.db; one connection shared by threads under a lock."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- where a blob exists remotely (cross-repository mounts, "Layer already exists") ---------
    def add_source(self, digest: str, repo: str) -> None:
        self._q("INSERT OR REPLACE INTO sources VALUES (?,?,?)", (digest, repo, int(time.time())))

    def sources(self, digest: str) -> list[str]:
        return [r[0] for r in self._q("SELECT repo FROM sources WHERE digest=? ORDER BY seen DESC", (digest,))]

    # -- the manifest an image was pulled or pushed with ----------------------------------------
    def set_manifest(self, image_id: str, repo: str, digest: str, media_type: str, size: int) -> None:
        self._q("INSERT OR REPLACE INTO manifests VALUES (?,?,?,?,?)", (image_id, repo, digest, media_type, size))

    def manifests(self, image_id: str) -> list[tuple[str, str, str, int]]:
        """(repo, digest, media type, size) rows for an image."""
        return [(r[0], r[1], r[2], r[3]) for r in
                self._q("SELECT repo, digest, media_type, size FROM manifests WHERE image_id=?", (image_id,))]

    def manifest_digests(self) -> set[str]:
        return {r[0] for r in self._q("SELECT digest FROM manifests")}

    def retained(self, image_ids: set[str]) -> set[str]:
        """Blobs to keep: leased ones, and the manifests of the images that still exist."""
        self.drop_manifests_except(image_ids)
        return self.leased() | self.manifest_digests()

    def drop_manifests_except(self, image_ids: set[str]) -> None:
        for (image_id,) in self._q("SELECT DISTINCT image_id FROM manifests"):
            if image_id not in image_ids:
                self._q("DELETE FROM manifests WHERE image_id=?", (image_id,))

    # -- compressed forms of a layer (diff id -> blob digest) -----------------------------------
    def add_compressed(self, diff_id: str, digest: str, media_type: str, size: int) -> None:
        self._q("INSERT OR REPLACE INTO compressed VALUES (?,?,?,?)", (diff_id, digest, media_type, size))

    def compressed(self, diff_id: str) -> list[tuple[str, str, int]]:
        return [(r[0], r[1], r[2]) for r in
                self._q("SELECT digest, media_type, size FROM compressed WHERE diff_id=?", (diff_id,))]

    # -- leases: verified blobs a pull still needs (kept across a crash for the next pull) ------
    def lease(self, digest: str, seconds: int = LEASE_SECONDS) -> None:
        self._q("INSERT OR REPLACE INTO leases VALUES (?,?)", (digest, int(time.time()) + seconds))

    def release(self, digest: str) -> None:
        self._q("DELETE FROM leases WHERE digest=?", (digest,))

    def leased(self) -> set[str]:
        now = int(time.time())
        self._q("DELETE FROM leases WHERE until<?", (now,))
        return {r[0] for r in self._q("SELECT digest FROM leases")}
