"""The registry's request handling: routing by the raw path, name checks, auth gate, errors, request log."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from berth.api.http.request import Request
from berth.api.http.responses import EmptyResponse, JSONResponse, RawResponse, Response
from berth.registry.auth import Access, BasicAuth, TokenAuth, parse_scopes
from berth.registry.blobs import BlobHandlers
from berth.registry.content import ContentHandlers
from berth.registry.errors import RegistryError, error_body
from berth.registry.names import check_name
from berth.registry.storage import RegistryStore
from berth.registry.uploads import Uploads

__all__ = ["RegistryApp", "RegistryConfig"]

log = logging.getLogger("berth.registry")

Handler = Callable[..., Awaitable[Response]]
_NAME = r"(?P<name>[^?#]+?)"
ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/v2/_catalog$"), "catalog"),
    (re.compile(rf"^/v2/{_NAME}/tags/list$"), "tags"),
    (re.compile(rf"^/v2/{_NAME}/manifests/(?P<ref>[^/]+)$"), "manifest"),
    (re.compile(rf"^/v2/{_NAME}/blobs/uploads/?$"), "uploads"),
    (re.compile(rf"^/v2/{_NAME}/blobs/uploads/(?P<upload>[^/]+)$"), "upload"),
    (re.compile(rf"^/v2/{_NAME}/blobs/(?P<digest>[^/]+)$"), "blob"),
    (re.compile(rf"^/v2/{_NAME}/referrers/(?P<digest>[^/]+)$"), "referrers"),
]
PULL, PUSH = ("pull",), ("pull", "push")


@dataclass
class RegistryConfig:
    root: str
    max_blob: int = 1 << 40
    delete_enabled: bool = True
    auth: BasicAuth | TokenAuth | None = None
    token_path: str = "/token"


class RegistryApp:
    """`await app(request) -> Response` for berth.api.http.server.HttpServer."""

    def __init__(self, config: RegistryConfig) -> None:
        self.config = config
        self.store = RegistryStore(config.root)
        self.uploads = Uploads(self.store, config.max_blob)
        self.blobs = BlobHandlers(self.store, self.uploads, config.delete_enabled)
        self.content = ContentHandlers(self.store, config.delete_enabled)
        self.handlers = self._table()

    def close(self) -> None:
        self.uploads.close()
        self.store.close()

    async def __call__(self, req: Request) -> Response:
        started = time.monotonic()
        user = "-"
        try:
            resp, user = await self._handle(req)
        except RegistryError as exc:
            resp = self._error(exc)
        except Exception as exc:  # a bug or an I/O error: 500 with the spec's error body
            log.exception("%s %s failed", req.method, req.raw_path)
            resp = self._error(RegistryError("UNKNOWN", f"internal error: {exc}", status=500))
        resp.headers.append(("Docker-Distribution-API-Version", "registry/2.0"))
        log.info('%s "%s %s" %d %.1fms', user or "-", req.method, req.target[:300], resp.status,
                 (time.monotonic() - started) * 1000)
        return resp

    @staticmethod
    def _error(exc: RegistryError) -> Response:
        if exc.status == 416 and exc.code == "RANGE_INVALID":
            return EmptyResponse(416, [*exc.headers, ("Content-Length", "0")])
        headers = [(k, v) for k, v in exc.headers if k.lower() != "content-length"]
        return RawResponse(error_body(exc.code, exc.message, exc.detail), "application/json", exc.status, headers)

    async def _handle(self, req: Request) -> tuple[Response, str]:
        path = req.raw_path
        if isinstance(self.config.auth, TokenAuth) and path == self.config.token_path:
            return await self._token(req), ""
        if path in ("/v2", "/v2/"):
            user = self._authorize(req, [])
            return JSONResponse({}), user
        for pattern, kind in ROUTES:
            m = pattern.match(path)
            if m:
                return await self._dispatch(req, kind, m.groupdict())
        raise RegistryError("NOT_FOUND", "page not found", status=404)

    async def _dispatch(self, req: Request, kind: str, params: dict[str, str]) -> tuple[Response, str]:
        method = req.method
        if kind == "catalog":
            user = self._authorize(req, [Access("registry", "catalog", ("*",))])
            self._allow(method, ("GET",))
            return await self.content.catalog(req), user
        name = check_name(params["name"])
        entry = self.handlers[kind].get(method)
        if entry is None:
            raise RegistryError("UNSUPPORTED", "the operation is unsupported", {"method": method})
        handler, actions = entry
        needed = [Access("repository", name, actions)]
        source = req.query.get("from")
        if kind == "uploads" and source and req.query.get("mount"):
            needed.append(Access("repository", source, PULL))
        user = self._authorize(req, needed)
        args = [unquote(v) for k, v in params.items() if k != "name"]  # `sha256%3A...` from eager encoders
        return await handler(req, name, *args), user

    def _table(self) -> dict[str, dict[str, tuple[Handler, tuple[str, ...]]]]:
        """route kind -> method -> (handler, actions a token must grant)."""
        return {
            "tags": {"GET": (self.content.tags, PULL)},
            "manifest": {"GET": (self.content.get_manifest, PULL), "HEAD": (self.content.get_manifest, PULL),
                         "PUT": (self.content.put_manifest, PUSH),
                         "DELETE": (self.content.delete_manifest, ("delete",))},
            "uploads": {"POST": (self.blobs.start, PUSH)},
            "upload": {"GET": (self.blobs.status, PUSH), "PATCH": (self.blobs.patch, PUSH),
                       "PUT": (self.blobs.finish, PUSH), "DELETE": (self.blobs.cancel, PUSH)},
            "blob": {"GET": (self.blobs.get, PULL), "HEAD": (self.blobs.get, PULL),
                     "DELETE": (self.blobs.delete, ("delete",))},
            "referrers": {"GET": (self.content.referrers, PULL)},
        }

    @staticmethod
    def _allow(method: str, methods: tuple[str, ...]) -> None:
        if method not in methods:
            raise RegistryError("UNSUPPORTED", "the operation is unsupported", {"method": method})

    def _authorize(self, req: Request, needed: list[Access]) -> str:
        auth = self.config.auth
        if auth is None:
            return ""
        ok, user = auth.allowed(req.headers.get("authorization"), needed)
        if ok:
            return user
        bearer = isinstance(auth, TokenAuth)
        error = "insufficient_scope" if bearer and user else ("invalid_token" if bearer and
                                                               req.headers.get("authorization") else "")
        detail: Any = [{"Type": a.type, "Name": a.name, "Action": act} for a in needed for act in a.actions]
        raise RegistryError("UNAUTHORIZED", "authentication required", detail or None, status=401,
                            headers=[("WWW-Authenticate", auth.challenge(needed, error))])

    async def _token(self, req: Request) -> Response:
        auth = self.config.auth
        assert isinstance(auth, TokenAuth)
        form: dict[str, str] = {}
        scopes = req.query.getall("scope")
        if req.method == "POST":
            pairs = parse_qsl((await req.body()).decode("utf-8", "replace"))
            form = dict(pairs)
            scopes += [v for k, v in pairs if k == "scope"]
        elif req.method != "GET":
            raise RegistryError("UNSUPPORTED", "the operation is unsupported", {"method": req.method})
        service = req.query.get("service") or form.get("service")
        if service and service != auth.service:
            raise RegistryError("DENIED", f"unknown service {service[:100]!r}", status=400)
        account = auth.authenticate(req.headers.get("authorization"), form)
        if account is None:
            raise RegistryError("UNAUTHORIZED", "authentication required", status=401,
                                headers=[("WWW-Authenticate", 'Basic realm="Berth Registry Token Service"')])
        return JSONResponse(auth.issue(account, parse_scopes(scopes)))
