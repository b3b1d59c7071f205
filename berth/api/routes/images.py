"""Image routes: import, pull, push, login, list, inspect, tag, rmi, history, prune, save/load, commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from berth import errdefs
from berth.api.http.request import Request
from berth.api.http.responses import JSONResponse, RawResponse, Response, StreamResponse
from berth.api.http.router import Route
from berth.api.image_backends import ImagesBackend, RegistryBackend
from berth.api.streams import json_message, json_stream

__all__ = ["routes"]


def _legacy_summary(summary: dict[str, Any], version: tuple[int, int]) -> dict[str, Any]:
    """API < 1.43 shows `<none>` placeholders; < 1.44 also VirtualSize (CHANGELOG)."""
    out = dict(summary)
    if version < (1, 43):
        out["RepoTags"] = out["RepoTags"] or ["<none>:<none>"]
        out["RepoDigests"] = out["RepoDigests"] or ["<none>@<none>"]
    if version < (1, 44):
        out["VirtualSize"] = out["Size"]
    return out


def _pull_refused(from_image: str, tag: str) -> errdefs.NotFound:
    name = from_image.partition("@")[0]
    if ":" in name.rpartition("/")[2]:
        name = name.rpartition(":")[0]
    for prefix in ("docker.io/library/", "docker.io/"):
        name = name.removeprefix(prefix)
    return errdefs.NotFound(
        f"pull access denied for {name}, repository does not exist or may require 'docker login': "
        "denied: requested access to the resource is denied"
    )


async def _aiter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A blocking byte generator (file reads) consumed from worker threads."""
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        if chunk:
            yield chunk


def routes(backend: ImagesBackend, registry: RegistryBackend | None = None) -> list[Route]:
    async def create(req: Request) -> Response:
        from_src = req.query.get("fromSrc")
        from_image = req.query.get("fromImage")
        if from_src:
            if from_src != "-":
                raise errdefs.NotImplementedErr("importing from a URL is not supported; pipe the file with -")
            image_id = await backend.import_stream(
                req.body_stream(),
                repo=req.query.get("repo") or "",
                tag=req.query.get("tag") or "",
                changes=req.query.getall("changes"),
                message=req.query.get("message") or "",
            )
            return RawResponse(json_message({"status": image_id}), "application/json")
        if from_image:
            if registry is None:
                raise _pull_refused(from_image, req.query.get("tag") or "")
            source = registry.pull(from_image, req.query.get("tag") or "", req.query.get("platform") or "",
                                   req.headers.get("X-Registry-Auth"))
            return StreamResponse(json_stream(source, raise_before_first=True), wait_first=True)
        raise errdefs.InvalidParameter("fromImage or fromSrc must be given")

    async def list_(req: Request) -> Response:
        summaries = await asyncio.to_thread(backend.list, req.filters(), req.query_bool("all"))
        return JSONResponse([_legacy_summary(s, req.api_version) for s in summaries])

    async def inspect(req: Request) -> Response:
        out = await asyncio.to_thread(backend.inspect, req.path_params["name"])
        if req.api_version < (1, 44):
            out["VirtualSize"] = out["Size"]
        return JSONResponse(out)

    async def history(req: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(backend.history, req.path_params["name"]))

    async def tag(req: Request) -> Response:
        await asyncio.to_thread(backend.tag, req.path_params["name"], req.query.get("repo") or "",
                                req.query.get("tag") or "")
        return RawResponse(b"", "text/plain; charset=utf-8", status=201)

    async def delete(req: Request) -> Response:
        records = await asyncio.to_thread(
            backend.delete, req.path_params["name"], req.query_bool("force"), not req.query_bool("noprune")
        )
        return JSONResponse(records)

    async def prune(req: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(backend.prune, req.filters()))

    async def save_names(names: list[str]) -> Response:
        chunks = await asyncio.to_thread(backend.save, names)
        return StreamResponse(_aiter(chunks), "application/x-tar")

    async def get_many(req: Request) -> Response:
        return await save_names(req.query.getall("names"))

    async def get_one(req: Request) -> Response:
        return await save_names([req.path_params["name"]])

    async def load(req: Request) -> Response:
        lines = await backend.load_stream(req.body_stream())
        return RawResponse(b"".join(json_message({"stream": line + "\n"}) for line in lines), "application/json")

    async def commit(req: Request) -> Response:
        container = req.query.get("container") or ""
        if not container:
            raise errdefs.InvalidParameter("container is required")
        body = await req.json()
        image_id = await backend.commit_container(
            container, repo=req.query.get("repo") or "", tag=req.query.get("tag") or "",
            changes=req.query.getall("changes"), comment=req.query.get("comment") or "",
            author=req.query.get("author") or "", config=body if isinstance(body, dict) and body else None,
        )
        return JSONResponse({"Id": image_id}, status=201)

    async def push(req: Request) -> Response:
        if registry is None:
            raise errdefs.NotImplementedErr("this daemon has no registry client")
        source = registry.push(req.path_params["name"], req.query.get("tag") or "", req.headers.get("X-Registry-Auth"))
        return StreamResponse(json_stream(source, raise_before_first=True), wait_first=True)

    async def auth(req: Request) -> Response:
        if registry is None:
            raise errdefs.NotImplementedErr("this daemon has no registry client")
        body = await req.json()
        if not isinstance(body, dict):
            raise errdefs.InvalidParameter("the login body must be a JSON object")
        return JSONResponse(await registry.login(body))

    extra = [Route("POST", "/auth", auth), Route("POST", "/images/{name:.*}/push", push)] if registry else []
    return [
        *extra,
        Route("POST", "/commit", commit),
        Route("GET", "/images/get", get_many),
        Route("POST", "/images/load", load),
        Route("GET", "/images/{name:.*}/get", get_one),
        Route("POST", "/images/create", create),
        Route("GET", "/images/json", list_),
        Route("POST", "/images/prune", prune),
        Route("GET", "/images/{name:.*}/json", inspect),
        Route("GET", "/images/{name:.*}/history", history),
        Route("POST", "/images/{name:.*}/tag", tag),
        Route("DELETE", "/images/{name:.*}", delete),
    ]
