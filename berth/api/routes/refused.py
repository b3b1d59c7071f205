"""Clear refusals for what the engine does not do: BuildKit (/session, /grpc), swarm, plugins."""

from __future__ import annotations

from berth import errdefs
from berth.api.http.request import Request
from berth.api.http.responses import JSONResponse, Response
from berth.api.http.router import Route

__all__ = ["BUILDKIT_REFUSAL", "SWARM_REFUSAL", "routes"]

BUILDKIT_REFUSAL = "BuildKit is not supported by this engine; set DOCKER_BUILDKIT=0"
SWARM_REFUSAL = (
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
    "to connect this node to swarm and try again."
)

_SWARM_OBJECTS = ("services", "nodes", "tasks", "secrets", "configs")


async def _buildkit(req: Request) -> Response:
    raise errdefs.NotImplementedErr(BUILDKIT_REFUSAL)


async def _swarm(req: Request) -> Response:
    raise errdefs.Unavailable(SWARM_REFUSAL)


async def _plugin_inspect(req: Request) -> Response:
    raise errdefs.NotFound(f'plugin "{req.path_params["name"]}" not found')


async def _plugin_list(req: Request) -> Response:
    return JSONResponse([])


def _swarm_routes() -> list[Route]:
    out = [Route("GET", "/swarm", _swarm)]
    out += [Route("POST", f"/swarm/{op}", _swarm) for op in ("init", "join", "leave", "update", "unlock")]
    out.append(Route("GET", "/swarm/unlockkey", _swarm))
    for obj in _SWARM_OBJECTS:
        out += [
            Route("GET", f"/{obj}", _swarm),
            Route("POST", f"/{obj}/create", _swarm),
            Route("GET", f"/{obj}/{{id}}", _swarm),
            Route("DELETE", f"/{obj}/{{id}}", _swarm),
            Route("POST", f"/{obj}/{{id}}/update", _swarm),
            Route("GET", f"/{obj}/{{id}}/logs", _swarm),
        ]
    return out


def routes() -> list[Route]:
    return [
        *(Route(m, p, _buildkit) for p in ("/session", "/grpc") for m in ("POST", "GET")),
        *_swarm_routes(),
        Route("GET", "/plugins", _plugin_list),
        Route("GET", "/plugins/{name:.*}/json", _plugin_inspect),
    ]
