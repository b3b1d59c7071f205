"""Images service (services layer): import, resolve, list/inspect/history, tag, rmi/prune, rootfs."""

from __future__ import annotations

import asyncio
import builtins
import json
import lzma
import os
import re
import shutil
import threading
import zlib
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from typing import Any, Protocol

from berth import errdefs
from berth.daemon.images import refs, remove, views
from berth.daemon.images.changes import apply_changes
from berth.daemon.images.feed import IterReader, QueueReader
from berth.daemon.images.views import Image
from berth.oci import digest as dg
from berth.oci import mediatypes
from berth.oci.image import empty_container_config, image_config, serialize
from berth.store.compression import DecompressingReader, Readable
from berth.store.content import ContentStore
from berth.store.metadata import ImageRecord, MetadataStore
from berth.store.snapshots.overlay import Snapshotter
from berth.util.idmap import IdMap
from berth.util.timefmt import from_rfc3339, now_ns, rfc3339nano

__all__ = ["DOCKER_VERSION", "ContainerInfo", "DocBuilder", "EventSink", "Image", "ImagesService", "IterReader"]

DocBuilder = Callable[[str, str], dict[str, Any]]  # (diff id, created) -> image config document
# a container reference -> (container id, image id, container config); NotFound when there is none
ContainerInfo = Callable[[str], tuple[str, str, dict[str, Any]]]

DOCKER_VERSION = "25.0.0-berth"
_HEX = re.compile(r"^[a-f0-9]{1,64}$")


class EventSink(Protocol):
    def publish(self, type_: str, action: str, actor_id: str, attributes: dict[str, str]) -> None: ...


class ImagesService:
    """Images on one data root: content blobs, metadata records and overlay snapshots."""

    def __init__(
        self,
        content: ContentStore,
        meta: MetadataStore,
        snapshots: Snapshotter,
        containers_using: Callable[[str], builtins.list[str]] = lambda _id: [],
        container_running: Callable[[str], bool] = lambda _cid: False,
        events: EventSink | None = None,
        container_info: ContainerInfo | None = None,
        retained_blobs: Callable[[set[str]], set[str]] | None = None,
    ) -> None:
        self.content = content
        self.meta = meta
        self.snapshots = snapshots
        self.containers_using = containers_using
        self.container_running = container_running
        self.events = events
        self.container_info = container_info
        # blobs the startup GC keeps besides layers and configs (the registry client's), given the image ids
        self.retained_blobs = retained_blobs or (lambda _ids: set())
        self.lock = threading.RLock()
        self.tmp_root = os.path.join(os.path.dirname(content.root), "tmp")

    @classmethod
    def open(cls, data_root: str, idmap: IdMap | None = None, **kwargs: Any) -> ImagesService:
        """The service over <data-root>/{content,metadata.db,snapshots} (the contracts' layout)."""
        os.makedirs(data_root, mode=0o711, exist_ok=True)
        meta = MetadataStore(os.path.join(data_root, "metadata.db"))
        content = ContentStore(os.path.join(data_root, "content"))
        content.clean_ingest()
        svc = cls(content, meta, Snapshotter(os.path.join(data_root, "snapshots"), meta, idmap=idmap), **kwargs)
        shutil.rmtree(svc.tmp_root, ignore_errors=True)
        remove.collect_garbage(svc)
        return svc

    def emit(self, action: str, image_id: str, name: str = "") -> None:
        if self.events is not None:
            self.events.publish("image", action, image_id, {"name": name or image_id})

    # -- import ---------------------------------------------------------------------------------
    def import_image(self, src: Readable | Iterable[bytes], repo: str = "", tag: str = "",
                     changes: Iterable[str] = (), message: str = "") -> str:
        """`docker import`: one uncompressed layer + a Docker config; returns the image id."""
        ref = self._import_ref(repo, tag)
        config = apply_changes(empty_container_config(), changes)
        comment = message or "Imported from -"

        def build(diff_id: str, created: str) -> dict[str, Any]:
            return image_config(config=config, diff_ids=[diff_id], created=created,
                                history=[{"created": created, "comment": comment}], comment=comment,
                                docker_version=DOCKER_VERSION)

        reader = DecompressingReader(src if hasattr(src, "read") else IterReader(src), external=False)  # type: ignore[arg-type]
        return self.new_image(reader, None, build, ref, action="import")

    def new_image(self, stream: Readable, parent_chain: str | None, build: DocBuilder,
                  ref: refs.Reference | None, parent_id: str = "", base_size: int = 0,
                  action: str = "") -> str:
        """Unpack one layer on `parent_chain`, store its blob and the config `build` makes, tag it.

        Nothing stays behind when any step fails: no blob, no snapshot, no record.
        """
        layer = None
        blob_new = False
        with self.content.writer() as writer:
            try:
                try:
                    layer = self.snapshots.apply_layer(parent_chain, stream, tee=writer.write)
                except (zlib.error, lzma.LZMAError, EOFError, ValueError) as exc:
                    raise errdefs.InvalidParameter(f"invalid archive: {exc}") from None
                with self.lock:
                    blob_new = not self.content.has(layer.diff_id)
                    blob = writer.commit(layer.diff_id, mediatypes.DOCKER_LAYER).digest
                    if layer.new:
                        self.snapshots.set_blob(layer.chain_id, blob)
                    created_ns = now_ns()
                    doc = build(layer.diff_id, rfc3339nano(created_ns))
                    rec = ImageRecord("", layer.chain_id, created_ns, base_size + layer.size, parent_id,
                                      labels=(doc.get("config") or {}).get("Labels"))
                    image_id = self._store_image(doc, rec, ref)
            except BaseException:
                with self.lock:
                    if layer is not None and layer.new:
                        remove.release_chain(self, layer.chain_id)
                    if blob_new and layer is not None and not self.meta.snapshots_with_blob(layer.diff_id):
                        self.content.delete(layer.diff_id)
                raise
        if action:
            self.emit(action, image_id, ref.familiar() if ref else image_id)
        return image_id

    def record_fetched(self, image_id: str, doc: dict[str, Any], chain: str | None) -> None:
        """The record of a pulled or loaded image whose layers are in place (call with `lock` held): size of its
        chain, creation time from its config, labels; an existing record keeps its parent and last tag time."""
        size = 0
        key = chain
        while key is not None:
            rec = self.meta.get_snapshot(key)
            assert rec is not None
            size += rec.size
            key = rec.parent
        try:
            created_ns = from_rfc3339(doc.get("created") or "")
        except ValueError:
            created_ns = now_ns()
        existing = self.meta.get_image(image_id)
        labels = (doc.get("config") or {}).get("Labels")
        self.meta.put_image(ImageRecord(image_id, chain, created_ns, size, existing.parent if existing else "",
                                        existing.last_tag_ns if existing else 0, labels))

    async def import_stream(self, chunks: AsyncIterable[bytes], repo: str = "", tag: str = "",
                            changes: Iterable[str] = (), message: str = "") -> str:
        """`import_image` fed from an async byte stream (a request body), run in a worker thread."""
        reader = QueueReader()
        lines = [*changes]
        work = asyncio.create_task(asyncio.to_thread(self.import_image, reader, repo, tag, lines, message))
        try:
            await reader.feed(chunks, work)
        finally:
            reader.close()
        return await work

    def commit(self, cid: str, image_id: str, container_config: dict[str, Any], *, repo: str = "",
               tag: str = "", changes: Iterable[str] = (), comment: str = "", author: str = "") -> str:
        """`docker commit`: container `cid`'s changes as a new layer on `image_id` (blocking; use a thread)."""
        from berth.daemon.images.commit import commit

        return commit(self, cid, image_id, container_config, repo=repo, tag=tag, changes=changes,
                      comment=comment, author=author)

    async def commit_container(self, container: str, *, repo: str = "", tag: str = "",
                               changes: Iterable[str] = (), comment: str = "", author: str = "",
                               config: dict[str, Any] | None = None) -> str:
        """POST /commit: the named container as an image (needs `container_info` from the wiring)."""
        from berth.daemon.images.commit import commit_container

        return await commit_container(self, container, repo=repo, tag=tag, changes=[*changes],
                                      comment=comment, author=author, config=config)

    @staticmethod
    def commit_ref(repo: str, tag: str) -> refs.Reference | None:
        return ImagesService._import_ref(repo, tag)

    @staticmethod
    def _import_ref(repo: str, tag: str) -> refs.Reference | None:
        if not repo:
            return None
        ref = refs.parse(repo)
        if ref.digest:
            raise errdefs.InvalidParameter("cannot import digest reference")
        if tag:
            return refs.parse_tag(ref.name, tag)
        return ref.with_default_tag()

    def _store_image(self, doc: dict[str, Any], rec: ImageRecord, ref: refs.Reference | None) -> str:
        """Store the config blob and the image record (id = digest of the config bytes), then the tag."""
        raw = serialize(doc)
        image_id = dg.sha256(raw)
        had_config = self.content.has(image_id)
        self.content.ingest_bytes(raw, image_id)
        try:
            with self.meta.transaction():
                existing = self.meta.get_image(image_id)
                self.meta.put_image(ImageRecord(image_id, rec.chain_id, rec.created_ns, rec.size, rec.parent,
                                                existing.last_tag_ns if existing else 0, rec.labels))
                if ref is not None:
                    self._set_tag(str(ref), image_id)
        except BaseException:
            if not had_config:
                self.content.delete(image_id)
            raise
        return image_id

    # -- lookup ---------------------------------------------------------------------------------
    def _load(self, rec: ImageRecord) -> Image:
        doc = json.loads(self.content.read_bytes(rec.id))
        return Image(rec, doc, tuple(self.meta.refs_of(rec.id)))

    def _record(self, image_id: str) -> ImageRecord | None:
        return self.meta.get_image(image_id)

    def resolve_id(self, ref_or_id: str) -> tuple[str, refs.Reference | None]:
        """The image id a user's reference, id or id prefix names, and the parsed reference if it was one."""
        text = ref_or_id
        if text.startswith("sha256:") and _HEX.match(text[7:]):
            text = text[7:]
            if len(text) == 64:
                if self._record("sha256:" + text):
                    return "sha256:" + text, None
                raise errdefs.NotFound(f"No such image: {ref_or_id}")
        elif len(text) == 64 and _HEX.match(text) and self._record("sha256:" + text):
            return "sha256:" + text, None
        ref: refs.Reference | None = None
        try:
            ref = refs.parse(text).with_default_tag() if not ref_or_id.startswith("sha256:") else None
        except errdefs.InvalidParameter:
            ref = None
        if ref is not None:
            target = self.meta.tag_target(str(ref))
            if target:
                return target, ref
        if _HEX.match(text):
            ids = self.meta.image_ids_with_prefix(text)
            if len(ids) == 1:
                return ids[0], None
        raise errdefs.NotFound(f"No such image: {ref.familiar() if ref else ref_or_id}")

    def get(self, ref_or_id: str) -> Image:
        """The image a reference, id or unique id prefix names; NotFound("No such image: X")."""
        image_id, _ = self.resolve_id(ref_or_id)
        rec = self._record(image_id)
        if rec is None:
            raise errdefs.NotFound(f"No such image: {ref_or_id}")
        return self._load(rec)

    def images(self) -> builtins.list[Image]:
        return [self._load(rec) for rec in self.meta.images()]

    def image_count(self) -> int:
        return len(self.meta.images())

    # -- list / inspect / history ---------------------------------------------------------------
    def list(
        self, filters: dict[str, builtins.list[str]] | None = None, all_: bool = False
    ) -> builtins.list[dict[str, Any]]:
        chosen = views.select(self.images(), filters or {}, self.get, all_=all_)
        return [views.summary(img) for img in chosen]

    def inspect(self, ref_or_id: str) -> dict[str, Any]:
        img = self.get(ref_or_id)
        return views.inspect(img, self._graph_data(img.record.chain_id))

    def _graph_data(self, chain_id: str | None) -> dict[str, str]:
        if chain_id is None:
            return {}
        dirs = self.snapshots.lower_dirs(chain_id)
        top = os.path.dirname(dirs[0])
        data = {"MergedDir": f"{top}/merged", "UpperDir": dirs[0], "WorkDir": f"{top}/work"}
        if len(dirs) > 1:
            data["LowerDir"] = ":".join(dirs[1:])
        return data

    def history(self, ref_or_id: str) -> builtins.list[dict[str, Any]]:
        img = self.get(ref_or_id)
        sizes = []
        for chain in dg.chain_ids(img.diff_ids):
            rec = self.meta.get_snapshot(chain)
            sizes.append(rec.size if rec else 0)
        return views.history(img, sizes)

    # -- tags -----------------------------------------------------------------------------------
    def tag_id(self, ref: str, image_id: str) -> None:
        """Point the fully qualified `ref` at `image_id` (no checks, no event)."""
        self._set_tag(ref, image_id)

    # -- save / load ----------------------------------------------------------------------------
    def save(self, names: builtins.list[str]) -> Iterator[bytes]:
        """`docker save`: names resolve now (NotFound early); the archive streams as it is read."""
        from berth.daemon.images.save import save

        return save(self, names)

    def load(self, stream: Readable | Iterable[bytes]) -> builtins.list[str]:
        """`docker load`: every image of the archive; the "Loaded image: x:t" lines (blocking)."""
        from berth.daemon.images.load import load

        return load(self, stream if hasattr(stream, "read") else IterReader(stream))  # type: ignore[arg-type]

    async def load_stream(self, chunks: AsyncIterable[bytes]) -> builtins.list[str]:
        reader = QueueReader()
        work = asyncio.create_task(asyncio.to_thread(self.load, reader))
        try:
            await reader.feed(chunks, work)
        finally:
            reader.close()
        return await work

    def _set_tag(self, ref: str, image_id: str) -> None:
        self.meta.set_tag(ref, image_id)
        self.meta.set_last_tag(image_id, now_ns())

    def tag(self, source: str, repo: str, tag: str = "") -> str:
        """`docker tag`: point repo:tag at the image `source` names; returns the new reference."""
        if not repo:
            raise errdefs.InvalidParameter("repository name must have at least one component")
        ref = refs.parse(repo)
        if ref.digest:
            raise errdefs.InvalidParameter("refusing to create a tag with a digest reference")
        ref = refs.parse_tag(ref.name, tag or ref.tag or "")
        with self.lock:
            image_id = self.get(source).id
            self._set_tag(str(ref), image_id)
        self.emit("tag", image_id, ref.familiar())
        return ref.familiar()

    # -- removal --------------------------------------------------------------------------------
    def delete(
        self, ref_or_id: str, force: bool = False, prune: bool = True
    ) -> builtins.list[dict[str, str]]:
        """`docker rmi`: untag and delete with Docker's conflict rules; the records Docker reports."""
        with self.lock:
            return remove.delete(self, ref_or_id, force, prune)

    def prune(self, filters: dict[str, builtins.list[str]] | None = None) -> dict[str, Any]:
        """`docker image prune [-a]`: {"ImagesDeleted": [...]|None, "SpaceReclaimed": N}."""
        with self.lock:
            return remove.prune(self, filters or {})

    # -- container rootfs -----------------------------------------------------------------------
    @staticmethod
    def rw_key(cid: str) -> str:
        return f"container:{cid}"

    def rootfs_chain(self, image_id: str) -> str | None:
        rec = self._record(image_id)
        if rec is None:
            raise errdefs.NotFound(f"No such image: {image_id}")
        return rec.chain_id

    def rootfs_mount(self, cid: str, image_id: str) -> dict[str, Any]:
        """The container's writable rootfs on top of its image (made on first call, then reused)."""
        key = self.rw_key(cid)
        with self.lock:
            if self.snapshots.exists(key):
                return self.snapshots.mount(key)
            return self.snapshots.prepare_rw(key, self.rootfs_chain(image_id))

    def layer_dirs(self, cid: str, image_id: str) -> builtins.list[str]:
        """The container's upper dir, then its image's layer dirs, top first."""
        key = self.rw_key(cid)
        if not self.snapshots.exists(key):
            self.rootfs_mount(cid, image_id)
        rec = self.meta.get_snapshot(key)
        assert rec is not None
        return [self.snapshots.fs_dir(key), *self.snapshots.lower_dirs(rec.parent)]

    def release_rootfs(self, cid: str) -> None:
        """Drop the container's writable layer (unmounted by the caller) and layers nothing uses now."""
        key = self.rw_key(cid)
        with self.lock:
            rec = self.meta.get_snapshot(key)
            if rec is None:
                return
            self.snapshots.remove(key)
            if rec.parent:
                remove.release_chain(self, rec.parent)

    release = release_rootfs

    def container_sizes(self, cid: str, image_id: str) -> tuple[int, int]:
        """(SizeRw, SizeRootFs): the bytes in a container's writable layer, and those plus its image's."""
        key = self.rw_key(cid)
        with self.lock:
            rw = self.snapshots.usage(key)[0] if self.snapshots.exists(key) else 0
            rec = self.meta.get_image(image_id)
        return rw, rw + (rec.size if rec is not None else 0)

    def disk_usage(self, containers_of: Callable[[str], int]) -> tuple[int, builtins.list[dict[str, Any]]]:
        """(LayersSize, image rows with Containers and SharedSize) for `system df`: a layer several images
        use counts once in LayersSize and towards each of those images' SharedSize."""
        with self.lock:
            images = self.images()
            sizes = {r.key: r.size for r in self.meta.snapshots() if r.kind == "committed"}
        users: dict[str, int] = {}
        chains = {img.id: dg.chain_ids(img.diff_ids) for img in images}
        for ids in chains.values():
            for chain in set(ids):
                users[chain] = users.get(chain, 0) + 1
        rows = []
        for img in images:
            row = views.summary(img)
            row["SharedSize"] = sum(sizes.get(c, 0) for c in set(chains[img.id]) if users.get(c, 0) > 1)
            row["Containers"] = containers_of(img.id)
            rows.append(row)
        return sum(sizes.values()), rows

    def writable_layer_owners(self) -> builtins.list[str]:
        """Ids of the containers that have a writable layer."""
        prefix = self.rw_key("")
        with self.lock:
            return [r.key[len(prefix):] for r in self.meta.snapshots() if r.key.startswith(prefix)]
