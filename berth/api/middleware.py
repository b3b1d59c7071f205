"""Docker's API middleware: /vX.Y prefix and version range, common headers, errors as JSON {"message"}."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from berth import __version__, errdefs
from berth.api.errors import message_for, status_for
from berth.api.http.request import Request
from berth.api.http.responses import EmptyResponse, JSONResponse, Response
from berth.api.http.router import Router

__all__ = [
    "API_VERSION",
    "MAX_API_VERSION",
    "MIN_API_VERSION",
    "Application",
    "common_headers",
    "error_response",
    "split_version",
]

log = logging.getLogger(__name__)

API_VERSION = "1.44"
MIN_API = "1.40"
MAX_API_VERSION = (1, 44)
MIN_API_VERSION = (1, 40)
_PREFIX = re.compile(r"^/v([0-9][0-9.]*)(/.*)$")


def common_headers(version: str = __version__) -> list[tuple[str, str]]:
    """Headers on every response, dockerd style."""
    return [
        ("Api-Version", API_VERSION),
        ("Docker-Experimental", "false"),
        ("Ostype", "linux"),
        ("Server", f"Engine/{version} (linux)"),
    ]


def split_version(path: str) -> tuple[tuple[int, int], str]:
    """("/v1.41/containers/json") -> ((1, 41), "/containers/json"); a bare path is 1.44.

    A version outside 1.40..1.44 is InvalidParameter with dockerd's text; a malformed one is NotFound.
    """
    m = _PREFIX.match(path)
    if not m:
        return MAX_API_VERSION, path
    text, rest = m.groups()
    parts = text.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise errdefs.NotFound("page not found")
    version = (int(parts[0]), int(parts[1]))
    if version < MIN_API_VERSION:
        raise errdefs.InvalidParameter(
            f"client version {text} is too old. Minimum supported API version is {MIN_API}, "
            "please upgrade your client to a newer version"
        )
    if version > MAX_API_VERSION:
        raise errdefs.InvalidParameter(
            f"client version {text} is too new. Maximum supported API version is {API_VERSION}"
        )
    return version, rest


def error_response(exc: BaseException) -> Response:
    """The JSON error a client sees for an exception (304 has no body)."""
    status = status_for(exc)
    if status == 304:
        return EmptyResponse(304)
    return JSONResponse({"message": message_for(exc)}, status=status)


class Application:
    """The request pipeline: version check, routing, handler, error mapping, common headers."""

    def __init__(self, router: Router, version: str = __version__) -> None:
        self.router = router
        self.headers = common_headers(version)

    async def __call__(self, req: Request) -> Response:
        req.response_headers = list(self.headers)
        try:
            resp = await self._dispatch(req)
        except Exception as exc:
            if status_for(exc) >= 500:
                log.error("%s %s: %s", req.method, req.raw_path, exc, exc_info=exc)
            else:
                log.debug("%s %s: %s", req.method, req.raw_path, exc)
            resp = error_response(exc)
        resp.headers = [*self.headers, *resp.headers]
        return resp

    async def _dispatch(self, req: Request) -> Response:
        log.debug("Calling %s %s", req.method, req.target)
        req.api_version, path = split_version(unquote(req.raw_path))
        req.path = path
        found = self.router.match(req.method, path)
        if found is None:
            raise errdefs.NotFound("page not found")
        handler, params = found
        req.path_params = params
        return await handler(req)
