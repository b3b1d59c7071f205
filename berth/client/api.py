"""Engine API client: version negotiation, JSON calls, streams, hijacked attach/exec, docker error texts."""

from __future__ import annotations

import os

from berth.client.http import Connection, Response, connect
from berth.util import minijson  # not `json`: it loads `re`, milliseconds of every command's start

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from berth.client.http import Body

__all__ = ["DEFAULT_HOST", "MAX_API_VERSION", "APIError", "Client", "DaemonUnreachable", "default_host"]

DEFAULT_HOST = "unix:///run/berth/berth.sock"
MAX_API_VERSION = "1.44"


def default_host(flag: str | None = None) -> str:
    """-H/--host, else BERTH_HOST, else the default socket."""
    return flag or os.environ.get("BERTH_HOST") or DEFAULT_HOST


class APIError(Exception):
    """An error answer from the daemon; str() is docker's "Error response from daemon: ..." text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"Error response from daemon: {self.message}"


class DaemonUnreachable(Exception):
    """The socket cannot be reached."""

    def __init__(self, host: str, cause: BaseException | None = None) -> None:
        if isinstance(cause, PermissionError):
            super().__init__(
                f"permission denied while trying to connect to the Berth daemon socket at {host}: "
                "connect: permission denied (is your user in the socket's group, \"berth\" by default?)"
            )
        else:
            super().__init__(f"Cannot connect to the Berth daemon at {host}. Is the berth daemon running?")


def _version_tuple(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        return (0,)


class Client:
    """Synchronous client of berthd (or dockerd) over its unix socket."""

    def __init__(self, host: str | None = None, version: str | None = None) -> None:
        self.host = default_host(host)
        self._version = version
        self._idle: Connection | None = None

    # -- connections -------------------------------------------------------------------------
    def _conn(self, fresh: bool = False) -> Connection:
        if not fresh and self._idle is not None:
            conn, self._idle = self._idle, None
            return conn
        try:
            return Connection(connect(self.host))
        except OSError as exc:
            raise DaemonUnreachable(self.host, exc) from exc

    def _release(self, conn: Connection) -> None:
        if conn.reusable and self._idle is None:
            self._idle = conn
        else:
            conn.close()

    def close(self) -> None:
        if self._idle is not None:
            self._idle.close()
            self._idle = None

    @property
    def api_version(self) -> str:
        """The negotiated version: min(ours, the daemon's Api-Version from HEAD /_ping)."""
        if self._version is None:
            self._version = self.negotiate()
        return self._version

    def _request_version(self, data: Body) -> tuple[str, bool]:
        """(version for a request with body `data`, whether it is a guess). Before any answer, a request that can
        be sent again goes out with our own version instead of after a ping: a daemon that supports it (berthd)
        answers at once, an older one says "too new" and names its maximum, and the request is sent again."""
        if self._version is not None:
            return self._version, False
        if data is None or isinstance(data, bytes):
            return MAX_API_VERSION, True
        return self.api_version, False

    def negotiate(self) -> str:
        conn = self._conn()
        try:
            resp = conn.request("HEAD", "/_ping")
            resp.read()
            if resp.status != 200:
                resp = conn.request("GET", "/_ping")
                resp.read()
        except (OSError, ConnectionError) as exc:
            conn.close()
            raise DaemonUnreachable(self.host, exc) from exc
        self._release(conn)
        server = resp.headers.get("api-version")
        if not server:
            return MAX_API_VERSION
        return min(server, MAX_API_VERSION, key=_version_tuple)

    # -- requests ----------------------------------------------------------------------------
    def open(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None, fresh: bool = False) -> Response:
        """Send a request; raise APIError for status >= 400; the caller reads the body."""
        hdrs = dict(headers or {})
        data: Body
        if body is None or isinstance(body, bytes) or hasattr(body, "read") or hasattr(body, "__next__"):
            data = body
        else:
            data = minijson.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        version, guessed = self._request_version(data)
        reused = not fresh and self._idle is not None and (data is None or isinstance(data, bytes))
        conn = self._conn(fresh or not reused)
        try:
            resp = conn.request(method, f"/v{version}{path}", query, data, hdrs)
        except (OSError, ConnectionError) as exc:
            conn.close()
            if not reused:
                raise DaemonUnreachable(self.host, exc) from exc
            conn = self._conn(fresh=True)
            resp = conn.request(method, f"/v{version}{path}", query, data, hdrs)
        if resp.status >= 400:
            raw = resp.read()
            self._release(conn)
            message = _error_message(raw, resp.status)
            if guessed:  # a daemon checks the version before anything else: any other error accepted it
                maximum = _daemon_maximum(message) if resp.status == 400 else None
                self._version = version if maximum is None else min(maximum, version, key=_version_tuple)
                if maximum is not None:
                    return self.open(method, path, query, body, headers, fresh)
            raise APIError(resp.status, message)
        if guessed:
            self._version = version
        return resp

    def call(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        """A request whose answer is JSON (or empty: None)."""
        resp = self.open(method, path, query, body, headers)
        try:
            result = resp.json()
        except ValueError:
            result = None
        self._release(resp.conn)
        return result

    def get(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, query or None)

    def post(self, path: str, body: Any = None, **query: Any) -> Any:
        return self.call("POST", path, query or None, body)

    def delete(self, path: str, **query: Any) -> Any:
        return self.call("DELETE", path, query or None)

    def stream(self, method: str, path: str, query: dict[str, Any] | None = None,
               body: Any = None, headers: dict[str, str] | None = None) -> Response:
        """A streamed answer on its own connection (the caller closes it)."""
        return self.open(method, path, query, body, headers, fresh=True)

    def json_stream(self, method: str, path: str, query: dict[str, Any] | None = None,
                    body: Any = None, headers: dict[str, str] | None = None) -> Iterator[Any]:
        resp = self.stream(method, path, query, body, headers)
        try:
            yield from resp.iter_json()
        finally:
            resp.close()

    def hijack(self, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Response:
        """POST with Connection: Upgrade / Upgrade: tcp; the answer must be 101 (or 200 raw stream)."""
        headers = {"Connection": "Upgrade", "Upgrade": "tcp"}
        if body is None:
            headers["Content-Type"] = "text/plain"
        resp = self.open("POST", path, query, body, headers, fresh=True)
        if resp.status not in (101, 200):
            resp.close()
            raise APIError(resp.status, f"unable to upgrade to tcp, received {resp.status}")
        resp.conn.reusable = False
        return resp


def _daemon_maximum(message: str) -> str | None:
    """The version a daemon names in its "client version X is too new. Maximum supported API version is Y"."""
    head, found, tail = message.partition("Maximum supported API version is ")
    if not found or "too new" not in head:
        return None
    version = tail.strip().rstrip(".")
    return version if _version_tuple(version) > (0,) else None


def _error_message(raw: bytes, status: int) -> str:
    text = raw.decode("utf-8", "replace").strip()
    try:
        doc = minijson.loads(text)
    except ValueError:
        return text or f"HTTP {status}"
    if isinstance(doc, dict) and "message" in doc:
        return str(doc["message"])
    return text
