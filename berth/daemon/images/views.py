"""Image list/inspect/history shapes and list filters (services layer); API 1.44 wire shapes as dicts."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from berth import errdefs
from berth.daemon.images import refs
from berth.oci.image import empty_container_config
from berth.store.metadata import ImageRecord
from berth.util.timefmt import ZERO_TIME, from_rfc3339, parse_since, rfc3339nano

__all__ = ["Image", "history", "inspect", "select", "summary", "until_filter_ns"]

LIST_FILTERS = ("dangling", "label", "before", "since", "reference", "until")


@dataclass(frozen=True, slots=True)
class Image:
    """A resolved image: its record, its config document, and its references (fully qualified)."""

    record: ImageRecord
    doc: dict[str, Any]
    refs: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def config(self) -> dict[str, Any]:
        """The container config part (`Config`) the containers service merges with a create body."""
        return self.doc.get("config") or {}

    @property
    def diff_ids(self) -> list[str]:
        return list((self.doc.get("rootfs") or {}).get("diff_ids") or [])

    def repo_tags(self) -> list[str]:
        return [refs.familiar(r) for r in self.refs if "@" not in r]

    def repo_digests(self) -> list[str]:
        return [refs.familiar(r) for r in self.refs if "@" in r]


def summary(img: Image) -> dict[str, Any]:
    return {
        "Containers": -1,
        "Created": img.record.created_ns // 1_000_000_000,
        "Id": img.id,
        "Labels": img.record.labels,
        "ParentId": img.record.parent,
        "RepoDigests": img.repo_digests(),
        "RepoTags": img.repo_tags(),
        "SharedSize": -1,
        "Size": img.record.size,
    }


def inspect(img: Image, graph_data: dict[str, str]) -> dict[str, Any]:
    doc = img.doc
    out: dict[str, Any] = {
        "Id": img.id,
        "RepoTags": img.repo_tags(),
        "RepoDigests": img.repo_digests(),
        "Parent": img.record.parent,
        "Comment": doc.get("comment", ""),
        "Created": doc.get("created") or rfc3339nano(img.record.created_ns),
        "Container": doc.get("container", ""),
        "ContainerConfig": doc.get("container_config") or empty_container_config(),
        "DockerVersion": doc.get("docker_version", ""),
        "Author": doc.get("author", ""),
        "Config": doc.get("config"),
        "Architecture": doc.get("architecture", ""),
        "Os": doc.get("os", ""),
        "Size": img.record.size,
        "GraphDriver": {"Data": graph_data, "Name": "overlay2"},
        "RootFS": {"Type": "layers", "Layers": img.diff_ids},
        "Metadata": {"LastTagTime": rfc3339nano(img.record.last_tag_ns) if img.record.last_tag_ns
                     else ZERO_TIME},
    }
    if doc.get("variant"):
        out["Variant"] = doc["variant"]
    return out


def history(img: Image, layer_sizes: list[int]) -> list[dict[str, Any]]:
    """`docker history` rows, newest first; `layer_sizes` follows diff_ids (bottom first)."""
    entries = list(img.doc.get("history") or [])
    sizes = iter(layer_sizes)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        created = entry.get("created")
        rows.append({
            "Comment": entry.get("comment", ""),
            "Created": from_rfc3339(created) // 1_000_000_000 if created else 0,
            "CreatedBy": entry.get("created_by", ""),
            "Id": "<missing>",
            "Size": 0 if entry.get("empty_layer") else next(sizes, 0),
            "Tags": None,
        })
    rows.reverse()
    if rows:
        rows[0]["Id"] = img.id
        rows[0]["Tags"] = img.repo_tags() or None
    return rows


def _label_match(labels: dict[str, str] | None, spec: str) -> bool:
    key, sep, value = spec.partition("=")
    have = labels or {}
    if key not in have:
        return False
    return not sep or have[key] == value


def _reference_matches(ref: str, patterns: list[str]) -> bool:
    parsed = refs.parse(ref)
    names = (parsed.familiar(), parsed.familiar_name(), str(parsed), parsed.name)
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)


def _bool_filter(filters: dict[str, list[str]], key: str) -> bool | None:
    values = filters.get(key)
    if not values:
        return None
    value = values[-1].lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise errdefs.InvalidParameter(f"invalid filter '{key}={values[-1]}'")


def select(images: list[Image], filters: dict[str, list[str]], resolve: Callable[[str], Image],
           all_: bool = False) -> list[Image]:
    """Apply `docker images` filters (dangling, label, reference, before, since, until)."""
    for key in filters:
        if key not in LIST_FILTERS:
            raise errdefs.InvalidParameter(f"invalid filter '{key}'")
    dangling = _bool_filter(filters, "dangling")
    before = [resolve(r).record.created_ns for r in filters.get("before", [])]
    since = [resolve(r).record.created_ns for r in filters.get("since", [])]
    until = until_filter_ns(filters)
    parents = {i.record.parent for i in images if i.record.parent}
    out = []
    for img in images:
        created = img.record.created_ns
        if dangling is not None and dangling != (not img.repo_tags()):
            continue
        if not all_ and dangling is None and not img.refs and img.id in parents:
            continue
        if any(not _label_match(img.record.labels, spec) for spec in filters.get("label", [])):
            continue
        if filters.get("reference"):  # as dockerd: only the matching references are listed
            matching = tuple(r for r in img.refs if _reference_matches(r, filters["reference"]))
            if not matching:
                continue
            img = replace(img, refs=matching)
        if any(created >= b for b in before) or any(created <= s for s in since):
            continue
        if any(created > u for u in until):
            continue
        out.append(img)
    return out


def until_filter_ns(filters: dict[str, list[str]]) -> list[float]:
    """The `until` filter's values as unix nanoseconds; a bad one is docker's 400."""
    try:
        return [parse_since(v) * 1e9 for v in filters.get("until", [])]
    except ValueError as exc:
        raise errdefs.InvalidParameter(str(exc)) from None
