"""`docker login` through the daemon (services layer): POST /auth checks credentials against /v2/."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from berth import errdefs
from berth.daemon.images.authconfig import credentials
from berth.daemon.images.registry import connection_error
from berth.distribution.errors import RegistryError

if TYPE_CHECKING:
    from berth.daemon.images.registry import RegistryService

__all__ = ["login", "server_domain"]


def server_domain(server: str) -> str:
    """`https://index.docker.io/v1/` -> `docker.io`; `http://127.0.0.1:5000/` -> `127.0.0.1:5000`."""
    text = server.strip() or "docker.io"
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    text = text.split("/", 1)[0]
    if text in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"):
        return "docker.io"
    return text.lower()


def login(reg: RegistryService, body: dict[str, Any]) -> dict[str, str]:
    creds = credentials(body)
    domain = server_domain(str(body.get("serveraddress") or ""))
    base = reg.reachable_base(domain)
    try:
        with reg.client(base, creds) as client:
            client.ping()
    except RegistryError as exc:
        if exc.status == 401:
            raise errdefs.Unauthorized(f"login attempt to {base}/v2/ failed with status: 401 Unauthorized") from None
        raise errdefs.System(exc.text()) from None
    except httpx.HTTPError as exc:
        raise connection_error("GET", f"{base}/v2/", exc) from None
    return {"Status": "Login Succeeded", "IdentityToken": ""}
