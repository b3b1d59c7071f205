"""Container routes: create, list, inspect, start/stop/kill/restart, wait, attach, logs, rm, and the rest."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from berth import errdefs
from berth.api import wiretypes
from berth.api.container_backends import ContainersBackend
from berth.api.http.request import Request
from berth.api.http.responses import EmptyResponse, Hijacked, JSONResponse, Response, StreamResponse
from berth.api.http.router import Route
from berth.api.streams import stdcopy_frame

__all__ = ["routes"]

RAW = "application/vnd.docker.raw-stream"
MUX = "application/vnd.docker.multiplexed-stream"


def _int_query(req: Request, key: str) -> int | None:
    value = req.query.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errdefs.InvalidParameter(f"invalid value for {key}: {value!r}") from None


def stream_type(req: Request, tty: bool) -> str:
    """The Content-Type: raw for TTY or API < 1.42, multiplexed otherwise (API-SCOPE §1).

    Only the label depends on the version: without a TTY the bytes are always stdcopy frames.
    """
    if tty or req.api_version < (1, 42):
        return RAW
    return MUX


def routes(backend: ContainersBackend) -> list[Route]:
    async def create(req: Request) -> Response:
        body = await req.json()
        if not isinstance(body, dict):
            raise errdefs.InvalidParameter("invalid JSON: request body must be an object")
        wiretypes.check(body, wiretypes.CONTAINER_CREATE)
        cid, warnings = await backend.create(body, req.query.get("name") or None)
        return JSONResponse({"Id": cid, "Warnings": warnings}, status=201)

    async def list_(req: Request) -> Response:
        return JSONResponse(
            backend.list_summaries(
                all_=req.query_bool("all"),
                limit=_int_query(req, "limit") or 0,
                filters=req.filters(),
                size=req.query_bool("size"),
            )
        )

    async def inspect(req: Request) -> Response:
        return JSONResponse(backend.inspect(req.path_params["name"], size=req.query_bool("size")))

    async def start(req: Request) -> Response:
        await backend.start(req.path_params["name"])
        return EmptyResponse(204)

    async def stop(req: Request) -> Response:
        await backend.stop(req.path_params["name"], _int_query(req, "t"), req.query.get("signal") or None)
        return EmptyResponse(204)

    async def restart(req: Request) -> Response:
        await backend.restart(req.path_params["name"], _int_query(req, "t"), req.query.get("signal") or None)
        return EmptyResponse(204)

    async def kill(req: Request) -> Response:
        await backend.kill(req.path_params["name"], req.query.get("signal") or None)
        return EmptyResponse(204)

    async def wait(req: Request) -> Response:
        condition = req.query.get("condition") or "not-running"
        fut = await backend.wait_register(req.path_params["name"], condition)

        async def body() -> AsyncIterator[bytes]:
            result = await fut
            yield json.dumps(result).encode() + b"\n"

        return StreamResponse(body(), content_type="application/json")

    async def remove(req: Request) -> Response:
        await backend.remove(req.path_params["name"], req.query_bool("force"), req.query_bool("v"))
        return EmptyResponse(204)

    async def rename(req: Request) -> Response:
        backend.rename(req.path_params["name"], req.query.get("name") or "")
        return EmptyResponse(204)

    async def resize(req: Request) -> Response:
        await backend.resize(req.path_params["name"], _int_query(req, "h") or 0, _int_query(req, "w") or 0)
        return EmptyResponse(200)

    async def attach(req: Request) -> Response:
        name = req.path_params["name"]
        tty = backend.is_tty(name)
        detach_keys = req.query.get("detachKeys")
        opts = {k: req.query_bool(k) for k in ("stdin", "stdout", "stderr", "stream", "logs")}
        session = await backend.attach_prepare(name, opts, detach_keys)
        reader, writer = await req.hijack(stream_type(req, tty))
        await backend.attach_run(session, reader, writer)
        return Hijacked()

    async def logs(req: Request) -> Response:
        name = req.path_params["name"]
        stdout, stderr = req.query_bool("stdout"), req.query_bool("stderr")
        if not (stdout or stderr):
            raise errdefs.InvalidParameter("Bad parameters: you must choose at least one stream")
        tty = backend.is_tty(name)
        source = backend.logs(
            name,
            stdout=stdout,
            stderr=stderr,
            follow=req.query_bool("follow"),
            tail=req.query.get("tail") or "all",
            since=req.query.get("since") or "",
            until=req.query.get("until") or "",
            timestamps=req.query_bool("timestamps"),
        )
        async def body() -> AsyncIterator[bytes]:
            async for kind, data in source:
                yield data if tty else stdcopy_frame(kind, data)

        return StreamResponse(body(), content_type=stream_type(req, tty))

    def stat_header(doc: dict[str, Any]) -> tuple[str, str]:
        """The X-Docker-Container-Path-Stat header the docker CLI reads (base64 of the stat JSON)."""
        return "X-Docker-Container-Path-Stat", base64.b64encode(json.dumps(doc).encode()).decode()

    def _archive_path(req: Request) -> str:
        path = req.query.get("path") or ""
        if not path:
            raise errdefs.InvalidParameter("path is required")
        return path

    async def archive_head(req: Request) -> Response:
        doc = await backend.archive_stat(req.path_params["name"], _archive_path(req))
        return EmptyResponse(200, headers=[stat_header(doc)])

    async def archive_get(req: Request) -> Response:
        doc, body = await backend.archive_get(req.path_params["name"], _archive_path(req))
        return StreamResponse(body, content_type="application/x-tar", headers=[stat_header(doc)])

    async def archive_put(req: Request) -> Response:
        await backend.archive_put(req.path_params["name"], _archive_path(req), req.body_stream(),
                                  no_overwrite_dir_non_dir=req.query_bool("noOverwriteDirNonDir"),
                                  copy_uid_gid=req.query_bool("copyUIDGID"))
        return EmptyResponse(200)

    async def stats(req: Request) -> Response:
        stream = req.query_bool("stream") if "stream" in req.query else True
        source = backend.stats(req.path_params["name"], stream=stream, one_shot=req.query_bool("one-shot"))
        return StreamResponse(source, content_type="application/json")

    async def top(req: Request) -> Response:
        return JSONResponse(await backend.top(req.path_params["name"], req.query.get("ps_args") or ""))

    async def export(req: Request) -> Response:
        return StreamResponse(await backend.export(req.path_params["name"]), content_type="application/x-tar")

    async def prune(req: Request) -> Response:
        deleted, reclaimed = await backend.prune(req.filters())
        return JSONResponse({"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed})

    async def update(req: Request) -> Response:
        body = await req.json()
        if not isinstance(body, dict):
            raise errdefs.InvalidParameter("invalid JSON: request body must be an object")
        wiretypes.check(body, wiretypes.CONTAINER_UPDATE)
        return JSONResponse({"Warnings": await backend.update(req.path_params["name"], body)})

    async def changes(req: Request) -> Response:
        return JSONResponse(await backend.changes(req.path_params["name"]))

    async def pause(req: Request) -> Response:
        await backend.pause(req.path_params["name"])
        return EmptyResponse(204)

    async def unpause(req: Request) -> Response:
        await backend.unpause(req.path_params["name"])
        return EmptyResponse(204)

    p = "/containers/{name}"
    return [
        Route("POST", "/containers/create", create),
        Route("GET", "/containers/json", list_),
        Route("POST", "/containers/prune", prune),
        Route("GET", p + "/json", inspect),
        Route("POST", p + "/start", start),
        Route("POST", p + "/stop", stop),
        Route("POST", p + "/restart", restart),
        Route("POST", p + "/kill", kill),
        Route("POST", p + "/wait", wait),
        Route("DELETE", p, remove),
        Route("POST", p + "/rename", rename),
        Route("POST", p + "/resize", resize),
        Route("POST", p + "/attach", attach),
        Route("GET", p + "/logs", logs),
        Route("GET", p + "/top", top),
        Route("GET", p + "/export", export),
        Route("GET", p + "/changes", changes),
        Route("POST", p + "/update", update),
        Route("GET", p + "/stats", stats),
        Route("HEAD", p + "/archive", archive_head),
        Route("GET", p + "/archive", archive_get),
        Route("PUT", p + "/archive", archive_put),
        Route("POST", p + "/pause", pause),
        Route("POST", p + "/unpause", unpause),
    ]

