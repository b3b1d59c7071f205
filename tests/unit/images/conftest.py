"""Fixtures for image unit tests: an ImagesService whose layer unpacking needs no root (hash only)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth.daemon.images.service import ImagesService
from berth.store.compression import Readable
from berth.store.content import ContentStore
from berth.store.metadata import MetadataStore
from berth.store.snapshots.overlay import Snapshotter


class HashOnlySnapshotter(Snapshotter):
    """Records layers without extracting them (the chroot'ed helper needs root: tested in privileged/)."""

    def _unpack(self, target: str, stream: Readable, tee: Callable[[bytes], None] | None) -> tuple[str, int]:
        h = hashlib.sha256()
        size = 0
        while chunk := stream.read(65536):
            h.update(chunk)
            size += len(chunk)
            if tee is not None:
                tee(chunk)
        return "sha256:" + h.hexdigest(), size


def make_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Users:
    """A fake containers service: which containers use which image, and which run."""

    def __init__(self) -> None:
        self.by_image: dict[str, list[str]] = {}
        self.running: set[str] = set()

    def using(self, image_id: str) -> list[str]:
        return self.by_image.get(image_id, [])


@pytest.fixture
def users() -> Users:
    return Users()


@pytest.fixture
def svc(tmp_path: Path, users: Users) -> Iterator[ImagesService]:
    meta = MetadataStore(str(tmp_path / "metadata.db"))
    service = ImagesService(
        ContentStore(str(tmp_path / "content")), meta, HashOnlySnapshotter(str(tmp_path / "snapshots"), meta),
        containers_using=users.using, container_running=lambda cid: cid in users.running,
    )
    try:
        yield service
    finally:
        meta.close()
