"""On-disk container records: containers/<id>/config.v2.json, written atomically."""

from __future__ import annotations

import json
import logging
import os

from berth.daemon.containers.model import Container
from berth.util.atomic import write_atomic

__all__ = ["ContainerStore"]

log = logging.getLogger(__name__)
RECORD = "config.v2.json"


class ContainerStore:
    """Persists container records under `<data-root>/containers`."""

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, mode=0o710, exist_ok=True)

    def dir_of(self, cid: str) -> str:
        return os.path.join(self.root, cid)

    def save(self, c: Container) -> None:
        if not os.path.isdir(c.root):
            return
        write_atomic(os.path.join(c.root, RECORD), json.dumps(c.to_json()).encode(), 0o600)

    def load_all(self) -> list[Container]:
        out = []
        for cid in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, cid, RECORD)
            try:
                with open(path, "rb") as f:
                    out.append(Container.from_json(json.load(f), root=os.path.join(self.root, cid)))
            except FileNotFoundError:
                log.warning("container dir %s has no record; ignoring it", cid)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("container record %s is unreadable: %s", path, exc)
        return out
