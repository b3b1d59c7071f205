"""`python -m berth.registry serve ...`: the registry server without the berth CLI."""

from __future__ import annotations

import sys

from berth.registry.serve import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["serve"]:
        args = args[1:]
    sys.exit(main(args))
