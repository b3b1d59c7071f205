"""Content store (verify before visible, abort, concurrent writers) and the sqlite metadata store."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from berth import errdefs
from berth.oci import digest
from berth.store.content import ContentStore
from berth.store.metadata import ImageRecord, MetadataStore


def test_blob_is_visible_only_after_verified_commit(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    data = b"hello layer"
    want = digest.sha256(data)
    w = store.writer()
    w.write(data[:5])
    assert not store.has(want)
    w.write(data[5:])
    desc = w.commit(want)
    assert desc.digest == want
    assert desc.size == len(data)
    assert store.read_bytes(want) == data
    assert [d.digest for d in store.walk()] == [want]
    assert os.listdir(store.ingest_dir) == []


def test_digest_mismatch_leaves_nothing(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    w = store.writer()
    w.write(b"not what was promised")
    with pytest.raises(errdefs.InvalidParameter, match="digest mismatch"):
        w.commit(digest.sha256(b"something else"))
    assert list(store.walk()) == []
    assert os.listdir(store.ingest_dir) == []


def test_abort_and_context_manager_drop_partial_writes(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    with store.writer() as w:
        w.write(b"partial")
    w2 = store.writer()
    w2.write(b"more")
    w2.abort()
    w2.abort()
    assert list(store.walk()) == []
    assert os.listdir(store.ingest_dir) == []


def test_concurrent_writers_of_the_same_and_different_blobs(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    payloads = [bytes([i % 3]) * 100_000 for i in range(12)]
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            with store.writer() as w:
                for i in range(0, len(data), 1000):
                    w.write(data[i:i + 1000])
                w.commit(digest.sha256(data))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(d.digest for d in store.walk()) == sorted({digest.sha256(p) for p in payloads})
    for d in store.walk():
        assert "sha256:" + hashlib.sha256(store.read_bytes(d.digest)).hexdigest() == d.digest


def test_content_paths_refuse_malformed_digests(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path))
    with pytest.raises(errdefs.InvalidParameter):
        store.path("sha256:../../../etc/passwd")
    with pytest.raises(errdefs.NotFound):
        store.open("sha256:" + "0" * 64)


def test_metadata_images_tags_and_transactions(tmp_path: Path) -> None:
    meta = MetadataStore(str(tmp_path / "metadata.db"))
    try:
        a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
        meta.put_image(ImageRecord(a, None, 1, 10, labels={"k": "v"}))
        meta.put_image(ImageRecord(b, None, 2, 20))
        assert meta.set_tag("docker.io/library/x:latest", a) is None
        assert meta.set_tag("docker.io/library/x:latest", b) == a
        assert meta.refs_of(a) == []
        assert meta.refs_of(b) == ["docker.io/library/x:latest"]
        assert meta.image_ids_with_prefix("aaa") == [a]
        assert meta.get_image(a) == ImageRecord(a, None, 1, 10, labels={"k": "v"})
        def delete_then_fail() -> None:
            with meta.transaction():
                meta.delete_image(a)
                raise RuntimeError("roll back")

        with pytest.raises(RuntimeError):
            delete_then_fail()
        assert meta.get_image(a) is not None
    finally:
        meta.close()
    reopened = MetadataStore(str(tmp_path / "metadata.db"))
    try:
        assert [r.id for r in reopened.images()] == [b, a]
    finally:
        reopened.close()


def test_two_roots_do_not_share_anything(tmp_path: Path) -> None:
    s1 = ContentStore(str(tmp_path / "one"))
    s2 = ContentStore(str(tmp_path / "two"))
    d = s1.ingest_bytes(b"only in one")
    assert s1.has(d)
    assert not s2.has(d)
