"""User-namespace id maps: container ids <-> host ids, as /proc/PID/uid_map and the OCI spec write them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IdMap", "IdRange", "UnmappableId"]

OVERFLOW_ID = 65534  # what the kernel shows for an id a namespace does not map


class UnmappableId(ValueError):
    """An id outside the map (moby's idtools text)."""


@dataclass(frozen=True, slots=True)
class IdRange:
    """`size` ids from `container` inside map to ids from `host` outside."""

    container: int
    host: int
    size: int


def _to_host(ranges: tuple[IdRange, ...], cid: int) -> int:
    for r in ranges:
        if r.container <= cid < r.container + r.size:
            return r.host + cid - r.container
    raise UnmappableId(f"Container ID {cid} cannot be mapped to a host ID")


def _to_container(ranges: tuple[IdRange, ...], hid: int) -> int:
    for r in ranges:
        if r.host <= hid < r.host + r.size:
            return r.container + hid - r.host
    return OVERFLOW_ID


@dataclass(frozen=True, slots=True)
class IdMap:
    """The uid and gid maps of a remapped daemon (container root = `root_uid`:`root_gid` on the host)."""

    uids: tuple[IdRange, ...]
    gids: tuple[IdRange, ...]

    def host_uid(self, uid: int) -> int:
        return _to_host(self.uids, uid)

    def host_gid(self, gid: int) -> int:
        return _to_host(self.gids, gid)

    def container_uid(self, uid: int) -> int:
        return _to_container(self.uids, uid)

    def container_gid(self, gid: int) -> int:
        return _to_container(self.gids, gid)

    @property
    def root_uid(self) -> int:
        return self.host_uid(0)

    @property
    def root_gid(self) -> int:
        return self.host_gid(0)

    def spec(self) -> dict[str, list[dict[str, int]]]:
        """linux.uidMappings and linux.gidMappings of the OCI spec."""
        def one(ranges: tuple[IdRange, ...]) -> list[dict[str, int]]:
            return [{"containerID": r.container, "hostID": r.host, "size": r.size} for r in ranges]

        return {"uidMappings": one(self.uids), "gidMappings": one(self.gids)}

    def encode(self) -> str:
        """A one-line text form for helper processes' command lines: `u:C:H:N,...;g:C:H:N,...`."""
        def one(tag: str, ranges: tuple[IdRange, ...]) -> str:
            return ",".join(f"{tag}:{r.container}:{r.host}:{r.size}" for r in ranges)

        return f"{one('u', self.uids)};{one('g', self.gids)}"

    @classmethod
    def decode(cls, text: str) -> IdMap:
        uids: list[IdRange] = []
        gids: list[IdRange] = []
        for part in text.replace(";", ",").split(","):
            tag, c, h, n = part.split(":")
            if tag not in ("u", "g") or int(n) <= 0:
                raise ValueError(f"invalid id map entry {part!r}")
            (uids if tag == "u" else gids).append(IdRange(int(c), int(h), int(n)))
        if not uids or not gids:
            raise ValueError(f"invalid id map {text!r}: both uid and gid ranges are needed")
        return cls(tuple(uids), tuple(gids))
