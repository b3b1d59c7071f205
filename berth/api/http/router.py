"""Route table: method + path patterns with `{name}` (one segment) and `{name:.*}` (greedy) params."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from berth.api.http.request import Request
from berth.api.http.responses import Response

__all__ = ["Handler", "Route", "Router"]

Handler = Callable[[Request], Awaitable[Response]]
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


def _compile(path: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _PARAM.finditer(path):
        out.append(re.escape(path[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>{m.group(2) or '[^/]+'})")
        pos = m.end()
    out.append(re.escape(path[pos:]))
    return re.compile("".join(out))


@dataclass(frozen=True)
class Route:
    """One endpoint: `Route("GET", "/images/{name:.*}/json", handler)` (path without the /vX.Y prefix)."""

    method: str
    path: str
    handler: Handler
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _compile(self.path))

    @property
    def static(self) -> bool:
        return "{" not in self.path


class Router:
    """Finds the handler of a (method, path); static paths win over patterns, then first added wins."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self._static: dict[tuple[str, str], Handler] = {}
        self._patterns: list[Route] = []
        for route in routes:
            self.add(route)

    def add(self, route: Route) -> None:
        if route.static:
            self._static.setdefault((route.method.upper(), route.path), route.handler)
        else:
            self._patterns.append(route)

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler and its path params, or None (unknown path or method: the caller answers 404)."""
        method = method.upper()
        handler = self._static.get((method, path))
        if handler is not None:
            return handler, {}
        for route in self._patterns:
            if route.method.upper() != method:
                continue
            m = route.pattern.fullmatch(path)
            if m:
                return route.handler, m.groupdict()
        return None

    def routes(self) -> list[tuple[str, str]]:
        return [*self._static, *((r.method, r.path) for r in self._patterns)]
