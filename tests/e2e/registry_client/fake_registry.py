"""A scriptable registry on loopback (http.server thread) for what a real one never serves: bad digests,
hostile layers, slow blobs, bearer tokens; it counts blob GETs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.e2e.registry_client.images import Blob, Image


@dataclass
class FakeRegistry:
    """Content by repository-less digest; manifests by (repo, ref)."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    blob_gets: Counter[str] = field(default_factory=Counter)
    slow: dict[str, float] = field(default_factory=dict)  # digest -> seconds per 64 KiB chunk
    cut_once: set[str] = field(default_factory=set)  # digests whose first GET stops half-way
    bearer: tuple[str, str] | None = None  # (user, password) the token endpoint accepts
    tokens: set[str] = field(default_factory=set)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add_image(self, repo: str, tag: str, img: Image, by_digest: bool = True) -> None:
        self.blobs.update(img.blobs)
        self.add_manifest(repo, tag, img.manifest, by_digest)

    def add_manifest(self, repo: str, ref: str, blob: Blob, by_digest: bool = True) -> None:
        self.manifests[(repo, ref)] = (blob.media_type, blob.data)
        if by_digest:
            self.manifests[(repo, blob.digest)] = (blob.media_type, blob.data)


def _handler(reg: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
            self._send(status, body, {"Content-Type": "application/json"})

        def _authorized(self) -> bool:
            if reg.bearer is None:
                return True
            header = self.headers.get("Authorization", "")
            if header.startswith("Bearer ") and header[7:] in reg.tokens:
                return True
            realm = f"http://{reg.host}/token"
            self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                       {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake",scope="x"',
                        "Content-Type": "application/json"})
            return False

        def _token(self) -> None:
            assert reg.bearer is not None
            want = "Basic " + base64.b64encode(f"{reg.bearer[0]}:{reg.bearer[1]}".encode()).decode()
            if self.headers.get("Authorization") != want:
                self._error(401, "UNAUTHORIZED", "incorrect username or password")
                return
            token = f"tok{len(reg.tokens)}"
            reg.tokens.add(token)
            body = json.dumps({"token": token, "expires_in": 300}).encode()
            self._send(200, body, {"Content-Type": "application/json"})

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/token":
                self._token()
                return
            if not self._authorized():
                return
            if path == "/v2/":
                self._send(200, b"{}", {"Docker-Distribution-API-Version": "registry/2.0"})
                return
            m = re.match(r"^/v2/(.+)/(manifests|blobs)/([^/]+)$", path)
            if m is None:
                self._error(404, "NOT_FOUND", "not found")
                return
            repo, kind, ref = m.groups()
            if kind == "manifests":
                found = reg.manifests.get((repo, ref))
                if found is None:
                    self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                    return
                self._send(200, found[1], {"Content-Type": found[0]})
                return
            data = reg.blobs.get(ref)
            if data is None:
                self._error(404, "BLOB_UNKNOWN", "blob unknown to registry")
                return
            if self.command == "GET":
                with reg.lock:
                    reg.blob_gets[ref] += 1
            if self.command == "GET" and ref in reg.cut_once:
                reg.cut_once.discard(ref)
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            delay = reg.slow.get(ref, 0.0)
            if not delay or self.command == "HEAD":
                self._send(200, data, {"Content-Type": "application/octet-stream"})
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for i in range(0, len(data), 1 << 16):
                self.wfile.write(data[i:i + (1 << 16)])
                self.wfile.flush()
                time.sleep(delay)

        do_HEAD = do_GET

    return Handler


@contextlib.contextmanager
def serving(reg: FakeRegistry) -> Iterator[FakeRegistry]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(reg))
    server.daemon_threads = True
    reg.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield reg
    finally:
        server.shutdown()
        server.server_close()
