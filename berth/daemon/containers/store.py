"""On-disk container records: containers/<id>/config.v2.json, written atomically."""

from __future__ import annotations

import json
import logging
import os

from berth.daemon.containers.model import Container
from berth.util.atomic import SyncLater, write_atomic

__all__ = ["ContainerStore"]

log = logging.getLogger(__name__)
RECORD = "config.v2.json"
TRASH_PREFIX = ".removed-"


class ContainerStore:
    """Persists container records under `<data-root>/containers`.

    A record's data is flushed before it is renamed into place, so that even a power cut leaves the old or the
    new record whole, never a half-written one. With a `syncer`, the directory's flush (which makes the rename
    last) follows on the syncer's thread: a power cut within milliseconds of a change can lose that change, and
    only that.
    """

    def __init__(self, root: str, syncer: SyncLater | None = None) -> None:
        self.root = root
        self.syncer = syncer
        os.makedirs(root, mode=0o710, exist_ok=True)

    def dir_of(self, cid: str) -> str:
        return os.path.join(self.root, cid)

    def discard(self, cid: str) -> str | None:
        """Take the container's directory away in one rename (its record is gone at once); returns where it went,
        for the caller to delete at leisure, or None when there was nothing."""
        trash = os.path.join(self.root, f"{TRASH_PREFIX}{cid}")
        try:
            os.rename(self.dir_of(cid), trash)
        except FileNotFoundError:
            return None
        return trash

    def trash(self) -> list[str]:
        """Directories discard() left behind (a daemon killed before it deleted them)."""
        return [os.path.join(self.root, n) for n in os.listdir(self.root) if n.startswith(TRASH_PREFIX)]

    def save(self, c: Container) -> None:
        if not os.path.isdir(c.root):
            return
        path = os.path.join(c.root, RECORD)
        write_atomic(path, json.dumps(c.to_json()).encode(), 0o600, sync_dir=self.syncer is None)
        if self.syncer is not None:
            self.syncer.add(path)

    def flush_later(self, paths: list[str]) -> None:
        """Files written with `durable=False` next to the records: flushed by the syncer (or now, without one)."""
        for path in paths:
            if self.syncer is not None:
                self.syncer.add(path)
            else:
                SyncLater.flush_now([path])

    def load_all(self) -> list[Container]:
        out = []
        for cid in sorted(os.listdir(self.root)):
            if cid.startswith(TRASH_PREFIX):
                continue
            path = os.path.join(self.root, cid, RECORD)
            try:
                with open(path, "rb") as f:
                    out.append(Container.from_json(json.load(f), root=os.path.join(self.root, cid)))
            except FileNotFoundError:
                log.warning("container dir %s has no record; ignoring it", cid)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("container record %s is unreadable: %s", path, exc)
        return out
