"""Volume routes: /volumes list, create, inspect, delete, prune (moby's shapes)."""

from __future__ import annotations

import asyncio

from berth import errdefs
from berth.api import wiretypes
from berth.api.http.request import Request
from berth.api.http.responses import EmptyResponse, JSONResponse, Response
from berth.api.http.router import Route
from berth.api.volume_backends import VolumesBackend

__all__ = ["routes"]


def routes(backend: VolumesBackend) -> list[Route]:
    async def list_(req: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(backend.list, req.filters()))

    async def create(req: Request) -> Response:
        body = await req.json()
        if not isinstance(body, dict):
            raise errdefs.InvalidParameter("invalid JSON: request body must be an object")
        wiretypes.check(body, wiretypes.VOLUME_CREATE)
        return JSONResponse(await asyncio.to_thread(backend.create_from_api, body), status=201)

    async def inspect(req: Request) -> Response:
        return JSONResponse(backend.inspect(req.path_params["name"]))

    async def delete(req: Request) -> Response:
        await asyncio.to_thread(backend.remove, req.path_params["name"], req.query_bool("force"))
        return EmptyResponse(204)

    async def prune(req: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(backend.prune, req.filters()))

    return [
        Route("GET", "/volumes", list_),
        Route("POST", "/volumes/create", create),
        Route("POST", "/volumes/prune", prune),
        Route("GET", "/volumes/{name}", inspect),
        Route("DELETE", "/volumes/{name}", delete),
    ]
