"""Registry authentication (distribution layer): WWW-Authenticate challenges, Basic, and Bearer tokens."""

from __future__ import annotations

import base64
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from berth.distribution.errors import RegistryError, from_response

__all__ = ["Authenticator", "Challenge", "Credentials", "parse_challenge"]

_PARAM = re.compile(r'([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


@dataclass(frozen=True, slots=True)
class Credentials:
    """What X-Registry-Auth carries for one registry."""

    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """`Bearer realm="...",service="...",scope="..."` -> Challenge (first scheme only)."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


class Authenticator:
    """Authorization headers for one registry: Basic, or Bearer tokens cached per scope until they expire."""

    def __init__(self, http: httpx.Client, creds: Credentials) -> None:
        self.http = http
        self.creds = creds
        self.challenge: Challenge | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def header(self, scope: str) -> dict[str, str]:
        """The Authorization header for a request under `scope` (empty before any challenge)."""
        if self.creds.registry_token:
            return {"Authorization": f"Bearer {self.creds.registry_token}"}
        ch = self.challenge
        if ch is None:
            return {}
        if ch.scheme == "basic":
            return {"Authorization": self.creds.basic()} if not self.creds.empty else {}
        if ch.scheme == "bearer":
            return {"Authorization": f"Bearer {self.token(scope)}"}
        return {}

    def on_unauthorized(self, resp: httpx.Response) -> bool:
        """Learn the challenge of a 401; True when a retry may succeed."""
        ch = parse_challenge(resp.headers.get("www-authenticate", ""))
        if ch is None or ch.scheme not in ("basic", "bearer"):
            return False
        sent = resp.request.headers.get("authorization", "")
        self.challenge = ch
        if ch.scheme == "bearer":
            with self._lock:
                if sent.startswith("Bearer "):  # that token was refused: fetch fresh ones
                    self._tokens.clear()
            return True
        return not self.creds.empty and not sent.startswith("Basic ")

    def token(self, scope: str) -> str:
        with self._lock:
            cached = self._tokens.get(scope)
            if cached and cached[1] > time.monotonic():
                return cached[0]
        value, ttl = self._fetch_token(scope)
        with self._lock:
            self._tokens[scope] = (value, time.monotonic() + max(ttl - 5, 1))
        return value

    def _fetch_token(self, scope: str) -> tuple[str, float]:
        assert self.challenge is not None
        realm = self.challenge.params.get("realm", "")
        if not realm:
            raise RegistryError(401, "UNAUTHORIZED", "bearer challenge without a realm")
        service = self.challenge.params.get("service", "")
        scopes = [s for s in scope.split(" ") if s]
        if self.creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": self.creds.identity_token,
                    "service": service, "client_id": "docker", "scope": " ".join(scopes)}
            resp = self.http.post(realm, data=form)
        else:
            params: list[tuple[str, str | int | float | bool | None]] = [("service", service)] if service else []
            params += [("scope", s) for s in scopes]
            headers = {"Authorization": self.creds.basic()} if self.creds.username else {}
            resp = self.http.get(realm, params=params, headers=headers)
        if resp.status_code != 200:
            raise from_response(resp.status_code, resp.content, resp.reason_phrase)
        try:
            doc: dict[str, Any] = resp.json()
        except ValueError:
            raise RegistryError(502, "", "the token server answered no JSON") from None
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise RegistryError(502, "", "the token server answered no token")
        return str(token), float(doc.get("expires_in") or 60)
