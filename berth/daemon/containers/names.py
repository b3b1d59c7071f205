"""Container name reservation and lookup by name, full id or unique id prefix."""

from __future__ import annotations

from berth import errdefs
from berth.util.ids import NAME_RE

__all__ = ["NameIndex"]


class NameIndex:
    """Maps names to ids and resolves docker's ways of naming a container."""

    def __init__(self) -> None:
        self._by_name: dict[str, str] = {}
        self._ids: set[str] = set()

    def reserve(self, name: str, cid: str) -> str:
        """Reserve `name` (with or without the leading slash) for `cid`; returns the bare name."""
        bare = name.removeprefix("/")
        if not NAME_RE.match(bare):
            raise errdefs.InvalidParameter(
                f'Invalid container name ({bare}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'
            )
        owner = self._by_name.get(bare)
        if owner is not None and owner != cid:
            raise errdefs.Conflict(
                f'Conflict. The container name "/{bare}" is already in use by container "{owner}". '
                "You have to remove (or rename) that container to be able to reuse that name."
            )
        self._by_name[bare] = cid
        self._ids.add(cid)
        return bare

    def release(self, name: str) -> None:
        self._by_name.pop(name.removeprefix("/"), None)

    def forget(self, cid: str, name: str) -> None:
        """Drop a removed container's id and name."""
        self._ids.discard(cid)
        if self._by_name.get(name.removeprefix("/")) == cid:
            self.release(name)

    def has_name(self, name: str) -> bool:
        return name.removeprefix("/") in self._by_name

    def resolve(self, ref: str) -> str:
        """The id named by `ref`: full id, exact name, or unique id prefix (docker's order)."""
        if ref in self._ids:
            return ref
        owner = self._by_name.get(ref.removeprefix("/"))
        if owner is not None:
            return owner
        if ref:
            matches = [cid for cid in self._ids if cid.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise errdefs.InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise errdefs.NotFound(f"No such container: {ref}")
