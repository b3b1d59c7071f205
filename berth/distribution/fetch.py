"""Blob download (distribution layer): streamed into the content store; visible only once size and digest match."""

from __future__ import annotations

from collections.abc import Callable

from berth import errdefs
from berth.distribution.client import RegistryClient
from berth.store.content import BlobFollower, ContentStore, Descriptor

__all__ = ["fetch_blob", "fetch_small"]

CHUNK = 1 << 17
MAX_CONFIG = 8 << 20


def fetch_blob(client: RegistryClient, repo: str, digest: str, size: int, store: ContentStore,
               progress: Callable[[int], None] | None = None, follower: BlobFollower | None = None) -> Descriptor:
    """Download `digest` (`size` bytes) into `store`; nothing becomes visible unless it verifies.

    A `follower` reads the bytes as they arrive; it sees the end of the data only once the blob verified.
    """
    with client.blob(repo, digest) as resp, store.writer(follower) as writer:
        declared = resp.headers.get("content-length")
        if declared is not None and size >= 0 and int(declared) != size:
            raise errdefs.InvalidParameter(
                f"failed to download {digest}: the registry sends {declared} bytes, the manifest says {size}")
        for chunk in resp.iter_raw(CHUNK):
            writer.write(chunk)
            if 0 <= size < writer.size:
                raise errdefs.InvalidParameter(f"failed to download {digest}: more than the {size} bytes announced")
            if progress is not None:
                progress(writer.size)
        if 0 <= size != writer.size:
            raise errdefs.InvalidParameter(
                f"failed to download {digest}: got {writer.size} bytes, expected {size} (unexpected EOF)")
        if writer.digest != digest:
            raise errdefs.InvalidParameter(
                f"filesystem layer verification failed for digest {digest}")
        return writer.commit(digest)


def fetch_small(client: RegistryClient, repo: str, digest: str, size: int, store: ContentStore,
                limit: int = MAX_CONFIG) -> bytes:
    """A small blob (an image config), from the store when it is there already, verified."""
    if size > limit:
        raise errdefs.InvalidParameter(f"blob {digest} is too large: {size} bytes (the limit is {limit})")
    if not store.has(digest):
        fetch_blob(client, repo, digest, size, store)
    return store.read_bytes(digest)
