"""Error kinds shared by every layer; the API maps each kind to one HTTP status (api/errors.py)."""

from __future__ import annotations

__all__ = [
    "BerthError",
    "Conflict",
    "Forbidden",
    "InvalidParameter",
    "NotFound",
    "NotImplementedErr",
    "NotModified",
    "System",
    "Unauthorized",
    "Unavailable",
]


class BerthError(Exception):
    """Base of every error Berth reports to a user; the message is what the user reads."""


class NotFound(BerthError):
    """The named object does not exist (404)."""


class InvalidParameter(BerthError):
    """The request is malformed or asks for something impossible (400)."""


class Conflict(BerthError):
    """The request conflicts with the current state, e.g. a name in use (409)."""


class Unauthorized(BerthError):
    """Credentials are missing or wrong (401)."""


class Forbidden(BerthError):
    """The operation is not allowed on this object (403)."""


class Unavailable(BerthError):
    """A service is not available now (503)."""


class NotModified(BerthError):
    """Nothing to do: the object is already in the asked state (304)."""


class NotImplementedErr(BerthError):
    """The engine does not implement this (501)."""


class System(BerthError):
    """An internal failure (500)."""
