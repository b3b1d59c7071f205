"""Validation of repository names, tags and digests as the distribution spec defines them."""

from __future__ import annotations

import re

from berth.registry.errors import RegistryError

__all__ = ["DIGEST_ALGOS", "check_digest", "check_name", "check_tag", "is_digest", "is_tag"]

NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST_ALGOS = {"sha256": 64, "sha512": 128}
DIGEST_RE = re.compile(r"^(sha256|sha512):([a-f0-9]+)$")
MAX_NAME = 255


def check_name(name: str) -> str:
    """`name` if it is a valid repository name, else NAME_INVALID (no `..`, no escapes, lower case)."""
    if len(name) > MAX_NAME or not NAME_RE.match(name):
        raise RegistryError("NAME_INVALID", f"invalid repository name: {name[:300]!r}")
    return name


def is_digest(value: str) -> bool:
    m = DIGEST_RE.match(value)
    return bool(m) and len(m.group(2)) == DIGEST_ALGOS[m.group(1)]  # type: ignore[union-attr]


def check_digest(value: str) -> str:
    """`value` if it is a sha256/sha512 digest with the right length, else DIGEST_INVALID."""
    if not is_digest(value):
        raise RegistryError("DIGEST_INVALID", f"invalid digest: {value[:300]!r}")
    return value


def is_tag(value: str) -> bool:
    return bool(TAG_RE.match(value))


def check_tag(value: str) -> str:
    if not is_tag(value):
        raise RegistryError("MANIFEST_INVALID", f"invalid tag: {value[:300]!r}")
    return value
