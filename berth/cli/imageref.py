"""An image reference as the CLI splits it: repository and tag (or digest)."""

from __future__ import annotations

__all__ = ["split_ref"]


def split_ref(ref: str) -> tuple[str, str | None]:
    """"repo:tag" -> (repo, tag), "repo@digest" -> (repo, digest); a port in the registry host is not a tag."""
    if "@" in ref:
        repo, _, digest = ref.partition("@")
        return repo, digest
    repo, colon, tag = ref.rpartition(":")
    if not colon or "/" in tag:
        return ref, None
    return repo, tag
