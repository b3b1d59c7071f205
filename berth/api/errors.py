"""The one mapping from Berth's error kinds (berth.errdefs) to HTTP status codes."""

from __future__ import annotations

from berth import errdefs

__all__ = ["message_for", "status_for"]

_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (errdefs.NotFound, 404),
    (errdefs.InvalidParameter, 400),
    (errdefs.Conflict, 409),
    (errdefs.Unauthorized, 401),
    (errdefs.Forbidden, 403),
    (errdefs.Unavailable, 503),
    (errdefs.NotModified, 304),
    (errdefs.NotImplementedErr, 501),
    (errdefs.System, 500),
)


def status_for(exc: BaseException) -> int:
    """HTTP status for an exception: the errdefs kind decides; anything else (OSError, bugs) is 500."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def message_for(exc: BaseException) -> str:
    """The text a client reads for an exception (never empty)."""
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return text or type(exc).__name__
