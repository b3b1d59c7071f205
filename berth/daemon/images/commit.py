"""`docker commit` (services layer): a container's upper dir becomes a new layer on its image."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from berth import errdefs
from berth.daemon.images.changes import apply_changes
from berth.daemon.images.export import tar_diff
from berth.daemon.images.feed import IterReader
from berth.oci.image import image_config
from berth.store.snapshots.placeholders import placeholders

if TYPE_CHECKING:
    from berth.daemon.images.service import ImagesService

__all__ = ["commit", "commit_container"]


def commit(svc: ImagesService, cid: str, image_id: str, container_config: dict[str, Any], *, repo: str = "",
           tag: str = "", changes: Iterable[str] = (), comment: str = "", author: str = "") -> str:
    """Make an image of container `cid` (its rootfs on `image_id`); returns the new image id."""
    from berth.daemon.images.service import DOCKER_VERSION

    ref = svc.commit_ref(repo, tag)
    parent = svc.get(image_id)
    config = apply_changes(container_config, changes)
    upper = svc.layer_dirs(cid, image_id)[0]
    entry: dict[str, Any] = {"created": "", "created_by": " ".join(container_config.get("Cmd") or [])}
    if author:
        entry["author"] = author
    if comment:
        entry["comment"] = comment

    def build(diff_id: str, created: str) -> dict[str, Any]:
        doc = image_config(
            config=config,
            diff_ids=[*parent.diff_ids, diff_id],
            created=created,
            history=[*copy.deepcopy(parent.doc.get("history") or []), {**entry, "created": created}],
            author=author,
            docker_version=DOCKER_VERSION,
            architecture=parent.doc.get("architecture"),
        )
        if parent.doc.get("variant"):
            doc["variant"] = parent.doc["variant"]
        doc["container"] = cid
        doc["container_config"] = container_config
        return doc

    layer = tar_diff(upper, svc.snapshots.idmap, skip=placeholders(upper))  # as dockerd: not its init layer
    return svc.new_image(IterReader(layer), parent.record.chain_id, build, ref,
                         parent_id=parent.id, base_size=parent.record.size)


async def commit_container(svc: ImagesService, container: str, *, repo: str, tag: str, changes: list[str],
                           comment: str, author: str, config: dict[str, Any] | None) -> str:
    """`docker commit`: look the container up, lay the request's non-empty Config fields over its own."""
    if svc.container_info is None:
        raise errdefs.NotImplementedErr("commit is not available: the daemon did not connect containers")
    cid, image_id, own = svc.container_info(container)
    merged = copy.deepcopy(own)
    for key, value in (config or {}).items():
        if value not in (None, "", [], {}, False):
            merged[key] = value
    return await asyncio.to_thread(commit, svc, cid, image_id, merged, repo=repo, tag=tag, changes=changes,
                                   comment=comment, author=author)
