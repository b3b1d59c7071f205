"""Docker image references: parse, normalize (busybox -> docker.io/library/busybox:latest), familiar names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from berth import errdefs

__all__ = ["DEFAULT_DOMAIN", "Reference", "familiar", "normalize", "parse", "parse_tag"]

DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL = "library/"
_MAX_NAME = 255

_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_COMPONENT = rf"{_ALNUM}(?:{_SEP}{_ALNUM})*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_HEX64 = re.compile(r"^[a-f0-9]{64}$")

INVALID = "invalid reference format"


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalized reference: domain, path, and an optional tag and digest."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_default_tag(self) -> Reference:
        """TagNameOnly: add `latest` when there is neither a tag nor a digest."""
        if self.tag or self.digest:
            return self
        return Reference(self.domain, self.path, "latest", None)

    def familiar_name(self) -> str:
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        return self.path[len(_OFFICIAL):] if self.path.startswith(_OFFICIAL) else self.path

    def familiar(self) -> str:
        out = self.familiar_name()
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = _OFFICIAL + remainder
    return domain, remainder


def parse(text: str) -> Reference:
    """ParseNormalizedNamed: a reference as users type it, in its fully qualified form."""
    if _HEX64.match(text):
        raise errdefs.InvalidParameter(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not _DIGEST_RE.match(digest):
            raise errdefs.InvalidParameter(INVALID)
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG_RE.match(tag):
            raise errdefs.InvalidParameter(INVALID)
    if not rest:
        raise errdefs.InvalidParameter(INVALID)
    domain, path = _split_domain(rest)
    if path.lower() != path and _PATH_RE.match(path.lower()):
        raise errdefs.InvalidParameter(f"{INVALID}: repository name ({path}) must be lowercase")
    if not _PATH_RE.match(path) or not _DOMAIN_RE.match(domain):
        raise errdefs.InvalidParameter(INVALID)
    if len(domain) + 1 + len(path) > _MAX_NAME:
        raise errdefs.InvalidParameter("repository name must not be more than 255 characters")
    return Reference(domain, path, tag, digest)


def normalize(text: str) -> str:
    """`busybox` -> `docker.io/library/busybox:latest`."""
    return str(parse(text).with_default_tag())


def familiar(text: str) -> str:
    """`docker.io/library/busybox:latest` -> `busybox:latest` (the form Docker prints)."""
    return parse(text).familiar()


def parse_tag(repo: str, tag: str) -> Reference:
    """The reference `docker tag`/`import` make from a repository and a tag (tag defaults to latest)."""
    ref = parse(repo)
    if ref.digest:
        raise errdefs.InvalidParameter("refusing to create a tag with a digest reference")
    if tag:
        if ref.tag:
            raise errdefs.InvalidParameter(INVALID)
        if not _TAG_RE.match(tag):
            raise errdefs.InvalidParameter(f"invalid tag format: {tag}")
        ref = Reference(ref.domain, ref.path, tag, None)
    return ref.with_default_tag()
