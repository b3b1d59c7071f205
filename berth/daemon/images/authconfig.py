"""X-Registry-Auth and POST /auth bodies (services layer): docker's AuthConfig as registry credentials."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from berth import errdefs
from berth.distribution.auth import Credentials

__all__ = ["credentials", "decode_header"]


def decode_header(value: str | None) -> dict[str, Any]:
    """base64url(JSON AuthConfig) -> dict; empty or `e30=` -> {} (anonymous)."""
    if not value:
        return {}
    text = value.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError):
        try:
            doc = json.loads(text)
        except ValueError:
            raise errdefs.InvalidParameter("invalid X-Registry-Auth header: not base64url-encoded JSON") from None
    if not isinstance(doc, dict):
        raise errdefs.InvalidParameter("invalid X-Registry-Auth header: not a JSON object")
    return doc


def credentials(auth: dict[str, Any]) -> Credentials:
    """Credentials from an AuthConfig (`auth` = base64 "user:password" fills missing fields)."""
    username = str(auth.get("username") or "")
    password = str(auth.get("password") or "")
    if not username and auth.get("auth"):
        try:
            username, _, password = base64.b64decode(str(auth["auth"])).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise errdefs.InvalidParameter("invalid auth field in the registry credentials") from None
    return Credentials(username, password, str(auth.get("identitytoken") or ""), str(auth.get("registrytoken") or ""))
