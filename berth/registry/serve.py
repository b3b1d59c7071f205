"""`berth registry serve`: flags, the TCP listener, request logging to stderr, clean exit on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from urllib.parse import urlparse

from berth.api.http.responses import RawResponse, Response
from berth.registry.app import RegistryApp, RegistryConfig
from berth.registry.auth import BasicAuth, Htpasswd, TokenAuth
from berth.registry.errors import error_body

__all__ = ["build_config", "main", "parser", "run"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="berth registry serve",
                                description="Run an OCI distribution (v2) registry in the foreground")
    p.add_argument("--addr", default="127.0.0.1:5000", help="HOST:PORT to listen on (port 0: any free port)")
    p.add_argument("--root", required=True, help="directory holding blobs and the registry database")
    p.add_argument("--htpasswd", help="htpasswd file (bcrypt entries as `htpasswd -B` writes)")
    p.add_argument("--token-realm", help="token endpoint URL announced in WWW-Authenticate (enables tokens; "
                   "`auto`: this server's own /token)")
    p.add_argument("--token-service", default="berth-registry", help="token service (audience)")
    p.add_argument("--token-issuer", default="berth-registry", help="token issuer")
    p.add_argument("--token-key", help="file with the key signing tokens: an RSA private key in PEM (RS256) or "
                   "an HMAC secret (HS256); default: a random HMAC key")
    p.add_argument("--token-cert", help="PEM certificate of the RSA key (checked against it; what peers trust)")
    p.add_argument("--max-blob-size", type=int, default=1 << 40, help="largest blob accepted, in bytes")
    p.add_argument("--disable-delete", action="store_true", help="refuse DELETE of manifests and blobs")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def build_config(ns: argparse.Namespace) -> RegistryConfig:
    users = Htpasswd(ns.htpasswd) if ns.htpasswd else None
    auth: BasicAuth | TokenAuth | None = None
    if ns.token_realm:
        auth = TokenAuth.from_key_file(users, ns.token_realm, ns.token_service, ns.token_issuer, ns.token_key,
                                       ns.token_cert)
    elif users is not None:
        auth = BasicAuth(users)
    token_path = (urlparse(ns.token_realm).path or "/token") if ns.token_realm else "/token"
    return RegistryConfig(ns.root, ns.max_blob_size, not ns.disable_delete, auth, token_path)


def _internal_error(exc: BaseException) -> Response:
    return RawResponse(error_body("UNKNOWN", f"internal error: {exc}"), "application/json", 500)


async def run(config: RegistryConfig, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve on the bound socket until `stop` is set."""
    from berth.api.http.server import HttpServer

    app = RegistryApp(config)
    server = HttpServer(app, on_error=_internal_error)
    try:
        await server.start([sock])
        await stop.wait()
    finally:
        await server.close()
        app.close()


def main(argv: list[str]) -> int:
    p = parser()
    ns = p.parse_args(argv)
    if ns.token_realm and not ns.htpasswd:
        p.error("--token-realm needs --htpasswd (the token endpoint checks its users)")
    logging.basicConfig(stream=sys.stderr, level=ns.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = _split_addr(ns.addr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    bound = sock.getsockname()[:2]
    if ns.token_realm == "auto":
        ns.token_realm = f"http://{bound[0]}:{bound[1]}/token"
    try:
        config = build_config(ns)
    except (OSError, ValueError) as exc:
        p.error(str(exc))
    sys.stderr.write(f"berth registry listening on {bound[0]}:{bound[1]}, root {ns.root}\n")  # at any log level
    sys.stderr.flush()

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(config, sock, stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
