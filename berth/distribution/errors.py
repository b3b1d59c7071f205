"""Registry errors (distribution layer): the spec's error JSON as a Python exception with errcode's text."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["RegistryError", "from_response"]


class RegistryError(Exception):
    """A registry answered with an error: `code` (MANIFEST_UNKNOWN, ...), HTTP `status`, errcode's text."""

    def __init__(self, status: int, code: str, message: str, detail: Any = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        super().__init__(self.text())

    def text(self) -> str:
        """errcode.Error's form: "manifest unknown: manifest unknown"."""
        if not self.code:
            return self.message
        return f"{self.code.lower().replace('_', ' ')}: {self.message}"


_REASONS = {401: "authentication required", 403: "requested access to the resource is denied"}
_STATUS_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 404: "NOT_FOUND", 429: "TOOMANYREQUESTS"}


def from_response(status: int, body: bytes, reason: str = "") -> RegistryError:
    """The first error of a `{"errors":[...]}` body, or one made from the status line."""
    try:
        doc = json.loads(body)
        first = (doc.get("errors") or [])[0]
        return RegistryError(status, str(first.get("code") or ""), str(first.get("message") or ""),
                             first.get("detail"))
    except (ValueError, TypeError, IndexError, AttributeError):
        pass
    code = _STATUS_CODES.get(status, "")
    text = body.decode(errors="replace").strip()[:200] or _REASONS.get(status) or reason or f"status {status}"
    if code:
        return RegistryError(status, code, text)
    return RegistryError(status, "", f"unexpected status from registry: {status} {reason}".strip())
