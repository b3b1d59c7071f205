"""Composition helpers for the API: build the router from route lists and serve it on listeners."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence

from berth.api.http.router import Route, Router
from berth.api.http.server import HttpServer
from berth.api.http.server import serve as _serve
from berth.api.middleware import Application, error_response

__all__ = ["build_router", "serve", "start_server"]


def build_router(route_lists: Iterable[Iterable[Route]]) -> Router:
    """One router from the `routes(backend)` lists of every route module (earlier lists win)."""
    router = Router()
    for routes in route_lists:
        for route in routes:
            router.add(route)
    return router


async def start_server(router: Router, listeners: Sequence[str | socket.socket]) -> HttpServer:
    """Start listening now; the caller stops it with `await server.close()`."""
    server = HttpServer(Application(router), on_error=error_response)
    await server.start(listeners)
    return server


async def serve(router: Router, listeners: Sequence[str | socket.socket]) -> None:
    """Serve the API until cancelled (then listeners close and unix socket files are removed)."""
    await _serve(router, listeners)
