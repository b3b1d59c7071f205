"""`docker rmi` and `docker image prune` (services layer): moby's untag/delete rules and conflict texts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from berth import errdefs
from berth.daemon.images import refs, views
from berth.oci.digest import short_id

if TYPE_CHECKING:
    from berth.daemon.images.service import ImagesService

__all__ = ["collect_garbage", "delete", "prune", "release_chain"]

HARD, SOFT_REF, SOFT_STOPPED = 1, 2, 4
PRUNE_FILTERS = ("dangling", "label", "label!", "until")


@dataclass
class _DeleteConflict:
    image_id: str
    message: str
    hard: bool
    used: bool = False

    def error(self) -> errdefs.Conflict:
        how = "cannot be forced" if self.hard else "must be forced"
        short = short_id(self.image_id)
        return errdefs.Conflict(f"conflict: unable to delete {short} ({how}) - {self.message}")


def release_chain(svc: ImagesService, chain_id: str | None) -> list[str]:
    """Remove layers from `chain_id` downwards while no image and no other snapshot uses them."""
    removed: list[str] = []
    key = chain_id
    while key is not None:
        rec = svc.meta.get_snapshot(key)
        if rec is None or rec.kind != "committed":
            break
        if svc.meta.images_using_chain(key) or svc.meta.snapshot_children(key):
            break
        svc.snapshots.remove(key)
        removed.append(key)
        if rec.blob and not svc.meta.snapshots_with_blob(rec.blob):
            svc.content.delete(rec.blob)
        key = rec.parent
    return removed


def _single_reference(repo_refs: list[str]) -> bool:
    """At most one tag, and every reference in that tag's repository (moby isSingleReference)."""
    if len(repo_refs) <= 1:
        return len(repo_refs) == 1
    parsed = [refs.parse(r) for r in repo_refs]
    tags = [p for p in parsed if not p.digest]
    if len(tags) > 1:
        return False
    single = tags[0] if tags else parsed[0]
    digest_repos = {p.name for p in parsed if p.digest}
    return len(digest_repos) == 1 and single.name in digest_repos


def _conflict(svc: ImagesService, image_id: str, mask: int) -> _DeleteConflict | None:
    if svc.meta.children(image_id):
        return _DeleteConflict(image_id, "image has dependent child images", True)
    users = svc.containers_using(image_id)
    for cid in users:
        if svc.container_running(cid):
            return _DeleteConflict(image_id, f"image is being used by running container {short_id(cid)}",
                                   True, True)
    if mask & SOFT_REF and svc.meta.refs_of(image_id):
        return _DeleteConflict(image_id, "image is referenced in multiple repositories", False)
    if mask & SOFT_STOPPED and users:
        return _DeleteConflict(image_id, f"image is being used by stopped container {short_id(users[0])}",
                               False, True)
    return None


def _untag(svc: ImagesService, ref: str, image_id: str, records: list[dict[str, str]]) -> None:
    svc.meta.delete_tag(ref)
    name = refs.familiar(ref)
    records.append({"Untagged": name})
    svc.emit("untag", image_id, name)


def delete(svc: ImagesService, ref_or_id: str, force: bool, prune: bool) -> list[dict[str, str]]:
    image_id, ref = svc.resolve_id(ref_or_id)
    records: list[dict[str, str]] = []
    repo_refs = svc.meta.refs_of(image_id)
    removed_repo_ref = False
    if ref is not None:
        users = svc.containers_using(image_id)
        if not force and users and _single_reference(repo_refs):
            raise errdefs.Conflict(
                f'conflict: unable to remove repository reference "{ref_or_id}" (must force) - container '
                f"{short_id(users[0])} is using its referenced image {short_id(image_id)}"
            )
        _untag(svc, str(ref), image_id, records)
        repo_refs = svc.meta.refs_of(image_id)
        if not ref.digest and not any(
            "@" not in r and refs.parse(r).name == ref.name for r in repo_refs
        ):
            for r in [r for r in repo_refs if "@" in r and refs.parse(r).name == ref.name]:
                _untag(svc, r, image_id, records)
            repo_refs = svc.meta.refs_of(image_id)
        if repo_refs:
            return records
        removed_repo_ref = True
    elif _single_reference(repo_refs):
        found = _conflict(svc, image_id, HARD if force else SOFT_STOPPED)
        if found is not None:
            raise found.error()
        for r in repo_refs:
            _untag(svc, r, image_id, records)
    _delete_image(svc, image_id, records, force, removed_repo_ref)
    return records


def _delete_image(svc: ImagesService, image_id: str, records: list[dict[str, str]], force: bool,
                  quiet: bool) -> None:
    found = _conflict(svc, image_id, HARD if force else HARD | SOFT_REF | SOFT_STOPPED)
    if found is not None:
        if quiet and (svc.meta.refs_of(image_id) or found.used):
            return
        raise found.error()
    if force:
        for r in svc.meta.refs_of(image_id):
            _untag(svc, r, image_id, records)
    rec = svc.meta.get_image(image_id)
    assert rec is not None
    svc.meta.delete_image(image_id)
    svc.content.delete(image_id)
    svc.emit("delete", image_id)
    records.append({"Deleted": image_id})
    records.extend({"Deleted": chain} for chain in release_chain(svc, rec.chain_id))


def prune(svc: ImagesService, filters: dict[str, list[str]]) -> dict[str, Any]:
    for key in filters:
        if key not in PRUNE_FILTERS:
            raise errdefs.InvalidParameter(f"invalid filter '{key}'")
    dangling_only = True
    if filters.get("dangling"):
        value = filters["dangling"][-1].lower()
        if value not in ("true", "1", "false", "0"):
            raise errdefs.InvalidParameter(f"invalid filter 'dangling={filters['dangling'][-1]}'")
        dangling_only = value in ("true", "1")
    until = views.until_filter_ns(filters)
    sizes = {rec.key: rec.size for rec in svc.meta.snapshots()}
    deleted: list[dict[str, str]] = []
    for img in svc.images():
        if svc.containers_using(img.id) or any(img.record.created_ns > u for u in until):
            continue
        if not _labels_match(img, filters):
            continue
        tags = img.repo_tags()
        if dangling_only and tags:
            continue
        targets = list(img.refs) or [img.id]
        for target in targets:
            try:
                deleted.extend(delete(svc, target, False, True))
            except (errdefs.Conflict, errdefs.NotFound):
                continue
    reclaimed = sum(sizes.get(d["Deleted"], 0) for d in deleted if "Deleted" in d)
    if svc.events is not None:
        svc.events.publish("image", "prune", "", {"reclaimed": str(reclaimed)})
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def _labels_match(img: views.Image, filters: dict[str, list[str]]) -> bool:
    labels = img.record.labels or {}

    def has(spec: str) -> bool:
        key, sep, value = spec.partition("=")
        return key in labels and (not sep or labels[key] == value)

    wanted = all(has(s) for s in filters.get("label", []))
    return wanted and not any(has(s) for s in filters.get("label!", []))


def collect_garbage(svc: ImagesService) -> tuple[list[str], list[str]]:
    """Drop layers and blobs nothing refers to (what a crash between two steps can leave); at startup only.

    Returns (removed layer chain ids, removed blob digests).
    """
    layers: list[str] = []
    for rec in svc.meta.snapshots():
        if rec.kind == "committed" and not svc.meta.snapshot_children(rec.key):
            layers.extend(release_chain(svc, rec.key))
    ids = {img.id for img in svc.meta.images()}
    keep = ids | {r.blob for r in svc.meta.snapshots() if r.blob} | svc.retained_blobs(ids)
    blobs = [d.digest for d in svc.content.walk() if d.digest not in keep]
    for digest in blobs:
        svc.content.delete(digest)
    return layers, blobs
