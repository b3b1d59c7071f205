"""`berth registry serve|gc`: Berth's OCI registry server in the foreground, and its offline GC (no daemon)."""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from berth.cli.main import Cli


def serve(cli: Cli, argv: list[str]) -> int:
    server = importlib.import_module("berth.registry.serve")  # the server is its own layer, loaded on demand
    return int(server.main(argv))


def gc(cli: Cli, argv: list[str]) -> int:
    collector = importlib.import_module("berth.registry.gc")
    return int(collector.main(argv))
