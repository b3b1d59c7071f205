"""Offline garbage collection: remove stored content no repository links to (run while the server is stopped)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from berth.registry.storage import RegistryStore

__all__ = ["GcResult", "collect"]


@dataclass(frozen=True, slots=True)
class GcResult:
    removed: int
    freed: int
    kept: int


def collect(store: RegistryStore, dry_run: bool = False) -> GcResult:
    """Delete blobs that no repository links (as blob or manifest) and aliases that point nowhere."""
    live: set[str] = set()
    for digest in store.linked_digests():
        key = store.sha256_of(digest)
        if key is not None:
            live.add(key)
    removed = freed = kept = 0
    for desc in store.content.walk():
        if desc.digest in live:
            kept += 1
            continue
        removed += 1
        freed += desc.size
        if not dry_run:
            store.content.delete(desc.digest)
    if not dry_run:
        store.drop_dangling_aliases(live)
        store.content.clean_ingest()
    return GcResult(removed, freed, kept)


def main(argv: list[str]) -> int:
    """`berth registry gc --root DIR [--dry-run]`."""
    import argparse

    p = argparse.ArgumentParser(prog="berth registry gc",
                                description="Remove blobs no repository refers to (stop the server first)")
    p.add_argument("--root", required=True, help="the registry's --root directory")
    p.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    ns = p.parse_args(argv)
    if not os.path.isdir(ns.root):
        p.error(f"{ns.root}: no such directory")
    store = RegistryStore(ns.root)
    try:
        result = collect(store, ns.dry_run)
    finally:
        store.close()
    verb = "would remove" if ns.dry_run else "removed"
    print(f"{verb} {result.removed} blobs ({result.freed} bytes), kept {result.kept}")
    return 0
