"""A container's volumes over its life: made at its create, mounted (a fresh one filled from the image) at its
start, its anonymous ones dropped with it; and which containers use a volume."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable

from berth import errdefs
from berth.daemon.containers import spec_mounts as mnt
from berth.daemon.containers.model import Container
from berth.daemon.containers.ports import VolumeStore

__all__ = ["ContainerVolumes"]

log = logging.getLogger(__name__)


class ContainerVolumes:
    """The containers' side of `store` (none: volumes are not offered, and nothing is done)."""

    def __init__(self, store: VolumeStore | None) -> None:
        self.store = store

    def make(self, c: Container) -> None:
        """As dockerd at create: the named volumes it refers to exist, and each volume path of its image or
        config (`-v /data`, VOLUME, `--mount type=volume` without a source) not mounted otherwise gets an
        anonymous volume of its own."""
        if self.store is None:
            return
        for name in mnt.volume_names(c.host_config):
            self.store.ensure(name)
        taken = set(mnt.destinations(c.mounted_host_config()))
        wanted = [*(c.config.get("Volumes") or {}), *(str(m.get("Target")) for m in c.host_config.get("Mounts") or []
                                                      if m.get("Type") == "volume" and not m.get("Source"))]
        for destination in wanted:
            destination = os.path.normpath(destination)
            if destination not in taken and destination not in c.anonymous_volumes:
                c.anonymous_volumes[destination] = self.store.create().name

    @staticmethod
    def inherit(c: Container, lookup: Callable[[str], Container]) -> None:
        """--volumes-from NAME[:ro|rw]: what NAME mounts (its binds, volumes and anonymous volumes, and what it
        inherited itself) mounted here too, read-only or read-write as asked (else as there); a destination this
        container mounts itself keeps its own."""
        taken = set(mnt.destinations(c.host_config)) | set(c.anonymous_volumes)
        for spec in c.host_config.get("VolumesFrom") or []:
            ref, _, mode = str(spec).partition(":")
            if mode not in ("", "ro", "rw"):
                raise errdefs.InvalidParameter(f"invalid mode: {mode}")
            source = lookup(ref)
            for origin, destination, rw in _mounted(source):
                if destination in taken:
                    continue
                taken.add(destination)
                writable = rw if not mode else mode == "rw"
                c.inherited_binds.append(f"{origin}:{destination}:{'rw' if writable else 'ro'}")

    def drop_anonymous(self, c: Container | None) -> None:
        if c is None or self.store is None:
            return
        for name in c.anonymous_volumes.values():
            try:
                self.store.remove(name, force=True)
            except errdefs.BerthError as exc:  # another container uses it meanwhile: it stays
                log.info("anonymous volume %s stays: %s", name, exc)

    @staticmethod
    def users(containers: Iterable[Container], name: str) -> list[str]:
        """The containers that mount volume `name`."""
        return [c.id for c in containers
                if name in mnt.volume_names(c.mounted_host_config()) or name in c.anonymous_volumes.values()]

    def mounts(self, c: Container) -> list[tuple[str, str, str]]:
        """(name, host path, destination) of every volume the container mounts."""
        if self.store is None:
            return []
        wanted = [*c.anonymous_volumes.items(), *mnt.named_volume_destinations(c.mounted_host_config())]
        return [(name, self.store.path(name), destination) for destination, name in wanted]

    def fill(self, volumes: list[tuple[str, str, str]], rootfs: str) -> None:
        """dockerd's copy-up into the fresh ones (blocking: call it on a thread)."""
        if self.store is None:
            return
        for name, _path, destination in volumes:
            self.store.fill_from(name, rootfs, destination)


def _mounted(c: Container) -> list[tuple[str, str, bool]]:
    """(bind source or volume name, destination, read-write) of everything container `c` mounts."""
    out = [(name, destination, True) for destination, name in c.anonymous_volumes.items()]
    for spec in c.mounted_host_config().get("Binds") or []:
        b = mnt.parse_bind(spec)
        out.append((b.source, b.destination, b.rw))
    for m in c.host_config.get("Mounts") or []:
        if m.get("Type") in ("bind", "volume") and m.get("Source"):
            out.append((str(m["Source"]), os.path.normpath(str(m.get("Target") or "/")), not m.get("ReadOnly")))
    return out
