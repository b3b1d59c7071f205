"""Exec routes: create an exec instance, start it (hijacked or detached), resize it, inspect it."""

from __future__ import annotations

from berth import errdefs
from berth.api import wiretypes
from berth.api.container_backends import ExecBackend
from berth.api.http.request import Request
from berth.api.http.responses import EmptyResponse, Hijacked, JSONResponse, Response
from berth.api.http.router import Route
from berth.api.routes.containers import stream_type

__all__ = ["routes"]


def _size(req: Request, key: str) -> int:
    try:
        return int(req.query.get(key) or 0)
    except ValueError:
        raise errdefs.InvalidParameter(f"invalid value for {key}") from None


def routes(backend: ExecBackend) -> list[Route]:
    async def create(req: Request) -> Response:
        body = await req.json()
        if not isinstance(body, dict):
            raise errdefs.InvalidParameter("invalid JSON: request body must be an object")
        wiretypes.check(body, wiretypes.EXEC_CREATE)
        return JSONResponse({"Id": backend.exec_create(req.path_params["name"], body)}, status=201)

    async def start(req: Request) -> Response:
        body = await req.json()
        if not isinstance(body, dict):
            raise errdefs.InvalidParameter("invalid JSON: request body must be an object")
        wiretypes.check(body, wiretypes.EXEC_START)
        eid = req.path_params["id"]
        tty = body.get("Tty")
        if body.get("Detach"):
            await backend.exec_start_detached(eid, None if tty is None else bool(tty))
            return EmptyResponse(200)
        use_tty = backend.exec_check(eid, None if tty is None else bool(tty))
        begun = backend.exec_begin(eid, use_tty)  # the shim starts the process while the 101 goes out
        try:
            reader, writer = await req.hijack(stream_type(req, use_tty))
        except BaseException:
            begun.add_done_callback(lambda task: task.cancelled() or task.exception())  # nobody to tell
            raise
        await backend.exec_run(eid, use_tty, body.get("ConsoleSize"), reader, writer, begun)
        return Hijacked()

    async def resize(req: Request) -> Response:
        await backend.exec_resize(req.path_params["id"], _size(req, "h"), _size(req, "w"))
        return EmptyResponse(200)

    async def inspect(req: Request) -> Response:
        return JSONResponse(backend.exec_inspect(req.path_params["id"]))

    return [
        Route("POST", "/containers/{name}/exec", create),
        Route("POST", "/exec/{id}/start", start),
        Route("POST", "/exec/{id}/resize", resize),
        Route("GET", "/exec/{id}/json", inspect),
    ]
