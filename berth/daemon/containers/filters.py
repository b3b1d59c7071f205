"""`docker ps` and `container prune` filters over container records, with docker's rules and texts."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from berth import errdefs
from berth.daemon.containers.model import Container, State
from berth.daemon.containers.spec_mounts import mount_points
from berth.util.timefmt import parse_since

__all__ = ["PS_FILTERS", "PRUNE_FILTERS", "AncestorResolver", "prune_matcher", "select", "validate_filters"]

PS_FILTERS = frozenset({
    "ancestor", "before", "expose", "exited", "health", "id", "isolation", "is-task", "label", "name",
    "network", "publish", "since", "status", "volume",
})  # fmt: skip
PRUNE_FILTERS = frozenset({"until", "label", "label!"})
AncestorResolver = Callable[[str], Collection[str]]
"""Image ids an `ancestor=` value stands for (the image and its descendants); empty when unknown."""


def validate_filters(filters: Mapping[str, Sequence[str]], accepted: Collection[str]) -> None:
    for key in filters:
        if key not in accepted:
            raise errdefs.InvalidParameter(f"invalid filter '{key}'")


def _regex_any(patterns: Iterable[str], text: str) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, text):
                return True
        except re.error:
            continue
    return False


def _labels_match(wanted: Iterable[str], labels: Mapping[str, str]) -> bool:
    """Every `key` or `key=value` must be present (docker ANDs label filters)."""
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def _find(containers: Sequence[Container], ref: str) -> Container:
    bare = ref.lstrip("/")
    for c in containers:
        if c.id == ref or c.name == bare:
            return c
    matches = [c for c in containers if c.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    raise errdefs.NotFound(f"No such container: {ref}")


def _ancestor_ids(values: Sequence[str], resolver: AncestorResolver | None,
                  containers: Sequence[Container]) -> set[str]:
    ids: set[str] = set()
    for value in values:
        if resolver is not None:
            ids.update(resolver(value))
            continue
        for c in containers:
            if _same_image(value, c):
                ids.add(c.image_id)
    return ids


def _same_image(value: str, c: Container) -> bool:
    hexid = c.image_id.removeprefix("sha256:")
    short = value.removeprefix("sha256:")
    if value in (c.image, c.image_id) or (len(short) >= 4 and hexid.startswith(short)):
        return True
    return _with_tag(value) == _with_tag(c.image)


def _with_tag(ref: str) -> str:
    if "@" in ref or ":" in ref.rsplit("/", 1)[-1]:
        return ref
    return ref + ":latest"


def _statuses(values: Sequence[str]) -> set[str]:
    valid = {s.value for s in State}
    for v in values:
        if v not in valid:
            raise errdefs.InvalidParameter(f"Invalid filter 'status={v}'")
    return set(values)


def _exit_codes(values: Sequence[str]) -> set[int]:
    out = set()
    for v in values:
        try:
            out.add(int(v))
        except ValueError:
            raise errdefs.InvalidParameter(f"Invalid filter 'exited={v}'") from None
    return out


def _port_key(value: str) -> str:
    return value if "/" in value else value + "/tcp"


class _PsFilter:
    def __init__(self, filters: Mapping[str, Sequence[str]], containers: Sequence[Container],
                 resolver: AncestorResolver | None) -> None:
        validate_filters(filters, PS_FILTERS)
        self.f = {k: list(v) for k, v in filters.items() if v}
        self.statuses = _statuses(self.f.get("status", []))
        self.exited = _exit_codes(self.f.get("exited", []))
        for value in self.f.get("health", []):
            if value not in ("starting", "healthy", "unhealthy", "none"):
                raise errdefs.InvalidParameter(f"Unrecognised filter value for health: {value}")
        self.ancestors = (_ancestor_ids(self.f["ancestor"], resolver, containers)
                          if "ancestor" in self.f else None)
        self.before = _find(containers, self.f["before"][0]) if "before" in self.f else None
        self.since = _find(containers, self.f["since"][0]) if "since" in self.f else None

    def matches(self, c: Container) -> bool:
        f = self.f
        checks: list[tuple[str, Callable[[], bool]]] = [
            ("id", lambda: _regex_any(f["id"], c.id)),
            ("name", lambda: _regex_any(f["name"], "/" + c.name)),
            ("label", lambda: _labels_match(f["label"], c.config.get("Labels") or {})),
            ("status", lambda: c.state.value in self.statuses),
            ("exited", lambda: c.state == State.EXITED and c.exit_code in self.exited),
            ("ancestor", lambda: self.ancestors is not None and c.image_id in self.ancestors),
            ("network", lambda: self._network(c)),
            ("volume", lambda: self._volume(c)),
            ("expose", lambda: any(_port_key(p) in (c.config.get("ExposedPorts") or {})
                                   for p in f["expose"])),
            ("publish", lambda: any(_port_key(p) in (c.host_config.get("PortBindings") or {})
                                    for p in f["publish"])),
            ("health", lambda: str((c.health or {}).get("Status") or "none") in f["health"]),
            ("is-task", lambda: "false" in f["is-task"]),
            ("isolation", lambda: "default" in f["isolation"] or "" in f["isolation"]),
        ]
        return all(check() for key, check in checks if key in f)

    def _network(self, c: Container) -> bool:
        names = set(c.networks) | {str(c.host_config.get("NetworkMode") or "")}
        ids = {str(n.get("NetworkID") or "") for n in c.networks.values() if isinstance(n, dict)}
        return any(v in names or (v and any(i.startswith(v) for i in ids if i)) for v in self.f["network"])

    def _volume(self, c: Container) -> bool:
        points = mount_points(c.host_config)
        return any(v in (p.get("Name"), p.get("Source"), p.get("Destination")) for v in self.f["volume"]
                   for p in points)


def select(
    containers: Iterable[Container],
    filters: Mapping[str, Sequence[str]] | None = None,
    *,
    all_: bool = False,
    limit: int = -1,
    image_matches: AncestorResolver | None = None,
) -> list[Container]:
    """The containers `docker ps` shows, newest first.

    Stopped containers are shown with `all_`, a positive `limit` (-n/--last), or a before/since/status
    filter, as docker does; `image_matches` resolves `ancestor=` values to image ids.
    """
    ordered = sorted(containers, key=lambda c: c.created, reverse=True)
    pf = _PsFilter(filters or {}, ordered, image_matches)
    show_all = all_ or limit > 0 or "status" in pf.f or pf.before is not None or pf.since is not None
    out: list[Container] = []
    waiting_for_before = pf.before is not None
    for c in ordered:
        if waiting_for_before:
            if pf.before is not None and c.id == pf.before.id:
                waiting_for_before = False
            continue
        if pf.since is not None and c.id == pf.since.id:
            break
        if not show_all and not c.running:
            continue
        if not pf.matches(c):
            continue
        out.append(c)
        if 0 < limit <= len(out):
            break
    return out


def prune_matcher(filters: Mapping[str, Sequence[str]] | None = None,
                  now: float | None = None) -> Callable[[Container], bool]:
    """`container prune` filters: until (created before), label, label! (docker's texts)."""
    f = {k: list(v) for k, v in (filters or {}).items() if v}
    validate_filters(f, PRUNE_FILTERS)
    until_ns: int | None = None
    if "until" in f:
        if len(f["until"]) > 1:
            raise errdefs.InvalidParameter("more than one until filter specified")
        try:
            until_ns = int(parse_since(f["until"][0], now) * 1e9)
        except ValueError as exc:
            raise errdefs.InvalidParameter(str(exc)) from None

    def matches(c: Container) -> bool:
        labels: Mapping[str, Any] = c.config.get("Labels") or {}
        if until_ns is not None and c.created >= until_ns:
            return False
        if "label" in f and not _labels_match(f["label"], labels):
            return False
        return not ("label!" in f and _labels_match(f["label!"], labels))

    return matches
