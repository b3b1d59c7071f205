"""A token server for docker-registry's `auth: token` mode: RS256 JWTs (signed by openssl) with an x5c certificate."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ISSUER = "berth-test-issuer"
SERVICE = "berth-test-registry"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    user: str
    password: str
    cert_path: str
    key_path: str
    cert_der: bytes
    port: int = 0
    requests: list[str] = field(default_factory=list)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def sign(self, scopes: list[str], subject: str) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT",
                  "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}".encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key_path], input=signing_input,
                             capture_output=True, check=True).stdout
        return signing_input.decode() + "." + _b64(sig)


def _handler(ts: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            ts.requests.append(self.path)
            want = "Basic " + base64.b64encode(f"{ts.user}:{ts.password}".encode()).decode()
            given = self.headers.get("Authorization")
            if given is not None and given != want:
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]})
                self._send(401, body.encode())
                return
            scopes = [] if given is None else query.get("scope", [])  # anonymous: a token without access
            token = ts.sign(scopes, ts.user if given else "")
            self._send(200, json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode())

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def token_server(directory: str, user: str, password: str) -> Iterator[TokenServer]:
    key_path = os.path.join(directory, "token-signer.key")
    cert_path = os.path.join(directory, "token-signer.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key_path, "-out", cert_path,
                    "-days", "2", "-subj", "/CN=berth-test-token-signer"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "x509", "-in", cert_path, "-outform", "DER"], check=True,
                         capture_output=True).stdout
    ts = TokenServer(user, password, cert_path, key_path, der)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ts))
    server.daemon_threads = True
    ts.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ts
    finally:
        server.shutdown()
        server.server_close()
