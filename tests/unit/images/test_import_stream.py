"""Imports fed from an async body stream: normal end, interrupted upload, concurrent imports of one layer."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator

import pytest

from berth.daemon.images.feed import StreamAborted
from berth.daemon.images.service import ImagesService
from tests.unit.images.conftest import make_tar

TAR = make_tar({f"f{i}": os.urandom(20_000) for i in range(20)})


async def chunks(data: bytes, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for n, i in enumerate(range(0, len(data), 4096)):
        if fail_after is not None and n == fail_after:
            raise ConnectionResetError("client went away")
        await asyncio.sleep(0)
        yield data[i:i + 4096]


def test_import_stream_reads_the_whole_body(svc: ImagesService) -> None:
    image_id = asyncio.run(svc.import_stream(chunks(TAR), "streamed", "1", ["CMD x"]))
    img = svc.get("streamed:1")
    assert img.id == image_id
    assert svc.content.read_bytes(img.diff_ids[0]) == TAR


def test_interrupted_upload_leaves_nothing(svc: ImagesService) -> None:
    with pytest.raises((ConnectionResetError, StreamAborted)):
        asyncio.run(svc.import_stream(chunks(TAR, fail_after=10), "broken"))
    assert svc.list() == []
    assert list(svc.content.walk()) == []
    assert os.listdir(svc.content.ingest_dir) == []
    assert svc.meta.snapshots() == []


def test_concurrent_imports_of_one_layer_share_a_snapshot(svc: ImagesService) -> None:
    import io

    ids: list[str] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            ids.append(svc.import_image(io.BytesIO(TAR), f"img{n}", "", [f"ENV N={n}"]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 6
    assert len([s for s in svc.meta.snapshots() if s.kind == "committed"]) == 1
    assert len(list(svc.content.walk())) == 7  # one layer blob + six configs
