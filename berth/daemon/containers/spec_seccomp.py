"""The container's seccomp in its OCI spec (daemon, containers): moby's WithSeccomp and create-time checks.

`--security-opt seccomp=unconfined` gives no filter; `seccomp=builtin` or nothing gives Docker's default
profile; anything else is a profile's JSON (the docker CLI reads `seccomp=/path.json` and sends the file's
content). A privileged container gets no filter unless it names a profile (moby loads that one even then).
The profile is resolved against the container's bounding capabilities, as moby's setupSeccomp does.
Unlike dockerd, a bad profile is refused at create time (400, Docker's or runc's text), not at start.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from berth import errdefs
from berth.seccomp.default import default_profile
from berth.seccomp.profile import ProfileError, load_profile, resolve

__all__ = ["apply", "linux_seccomp", "prewarm", "profile_option", "validate"]

UNCONFINED = "unconfined"
BUILTIN = "builtin"


def profile_option(security_opt: Sequence[str]) -> str | None:
    """The value of the last `seccomp=` (or `seccomp:`) security option; None when there is none."""
    value = None
    for opt in security_opt:
        key, sep, rest = opt.partition("=")
        if not sep:
            key, sep, rest = opt.partition(":")
        if sep and key == "seccomp":
            value = rest
    return value


def linux_seccomp(host_config: Mapping[str, Any], bounding_caps: Sequence[str]) -> dict[str, Any] | None:
    """OCI `linux.seccomp` for a container, or None for no filter; InvalidParameter for a bad profile."""
    profile = profile_option(host_config.get("SecurityOpt") or [])
    if profile == UNCONFINED:
        return None
    if host_config.get("Privileged") and not profile:
        return None
    try:
        if profile in (None, "", BUILTIN) and not host_config.get("Privileged"):
            return _default_resolved(tuple(bounding_caps))
        return resolve(load_profile(profile or ""), bounding_caps)
    except ProfileError as e:
        raise errdefs.InvalidParameter(str(e)) from None


@functools.lru_cache(maxsize=32)
def _default_resolved(bounding_caps: tuple[str, ...]) -> dict[str, Any] | None:
    """Docker's default profile resolved for a bounding set, made once per set: shared, never to be changed."""
    return resolve(default_profile(), bounding_caps)


def apply(oci: dict[str, Any], host_config: Mapping[str, Any]) -> None:
    """Set (or leave out) `linux.seccomp` in a built spec, from its process's bounding set."""
    caps = ((oci.get("process") or {}).get("capabilities") or {}).get("bounding") or []
    sc = linux_seccomp(host_config, caps)
    linux = oci.setdefault("linux", {})
    if sc is None:
        linux.pop("seccomp", None)
    else:
        linux["seccomp"] = sc


def validate(host_config: Mapping[str, Any], bounding_caps: Sequence[str]) -> None:
    """Create-time check of a custom profile: decoded, resolved and compiled, or InvalidParameter."""
    profile = profile_option(host_config.get("SecurityOpt") or [])
    if profile in (None, "", BUILTIN, UNCONFINED) and not (host_config.get("Privileged") and profile == BUILTIN):
        return
    sc = linux_seccomp(host_config, bounding_caps)
    if sc is None:
        return
    from berth.seccomp.compile import compile_filter
    from berth.seccomp.rules import RulesError

    try:
        compile_filter(sc)
    except RulesError as e:
        raise errdefs.InvalidParameter(str(e)) from None


def prewarm(cache_dir: str, default_caps: Sequence[str]) -> None:
    """Compile Docker's default profile for the default capabilities into berth-runtime's cache, so that no
    container start pays the compile (~20 ms in a fresh runtime process)."""
    from berth.seccomp.cache import cached_filter

    sc = linux_seccomp({}, default_caps)
    if sc is not None:
        cached_filter(sc, cache_dir)
