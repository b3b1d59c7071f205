"""Digests (oci layer): sha256 helpers, validation, diff ids and chain ids (image-spec config.md)."""

from __future__ import annotations

import hashlib
import re

__all__ = ["DIGEST_RE", "chain_id", "chain_ids", "hex_of", "is_digest", "sha256", "short_id", "validate"]

DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def sha256(data: bytes) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: str) -> bool:
    return bool(DIGEST_RE.match(value))


def validate(value: str) -> str:
    """Return `value` if it is a well-formed sha256 digest, else raise ValueError."""
    if not is_digest(value):
        raise ValueError(f"invalid digest {value!r}")
    return value


def hex_of(value: str) -> str:
    """The 64 hex digits of a validated digest."""
    return validate(value).split(":", 1)[1]


def short_id(value: str) -> str:
    """Docker's 12-character short form of an id or digest."""
    return value.split(":", 1)[-1][:12]


def chain_id(parent: str | None, diff_id: str) -> str:
    """ChainID(L0)=DiffID(L0); ChainID(L0..Ln)=sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)) (config.md)."""
    if parent is None:
        return diff_id
    return sha256(f"{parent} {diff_id}".encode())


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The chain id of every prefix of `diff_ids`, bottom layer first."""
    out: list[str] = []
    parent: str | None = None
    for diff in diff_ids:
        parent = chain_id(parent, diff)
        out.append(parent)
    return out
