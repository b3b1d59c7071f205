"""`python -m berth.runtime`: the OCI runtime's entry point."""

from berth.runtime.cli import main

raise SystemExit(main())
