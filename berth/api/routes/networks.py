"""Network routes: /networks list, inspect, create, delete, prune, connect, disconnect (moby's shapes)."""

from __future__ import annotations

from typing import Any

from berth import errdefs
from berth.api.http.request import Request
from berth.api.http.responses import EmptyResponse, JSONResponse, Response
from berth.api.http.router import Route
from berth.api.network_backends import NetworksBackend

__all__ = ["routes"]


async def _body(req: Request) -> dict[str, Any]:
    body = await req.json()
    if not isinstance(body, dict):
        raise errdefs.InvalidParameter("the request body must be a JSON object")
    return body


def routes(backend: NetworksBackend) -> list[Route]:
    async def list_(req: Request) -> Response:
        return JSONResponse(backend.list(req.filters()))

    async def inspect(req: Request) -> Response:
        return JSONResponse(backend.inspect(req.path_params["id"]))

    async def create(req: Request) -> Response:
        return JSONResponse(await backend.create(await _body(req)), status=201)

    async def delete(req: Request) -> Response:
        await backend.remove(req.path_params["id"])
        return EmptyResponse(204)

    async def prune(req: Request) -> Response:
        return JSONResponse(await backend.prune(req.filters()))

    async def connect(req: Request) -> Response:
        await backend.connect(req.path_params["id"], await _body(req))
        return EmptyResponse(200)

    async def disconnect(req: Request) -> Response:
        await backend.disconnect(req.path_params["id"], await _body(req))
        return EmptyResponse(200)

    return [
        Route("GET", "/networks", list_),
        Route("POST", "/networks/create", create),
        Route("POST", "/networks/prune", prune),
        Route("GET", "/networks/{id}", inspect),
        Route("DELETE", "/networks/{id}", delete),
        Route("POST", "/networks/{id}/connect", connect),
        Route("POST", "/networks/{id}/disconnect", disconnect),
    ]
