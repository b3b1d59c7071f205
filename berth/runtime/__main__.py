"""`python -m berth.runtime`: the OCI runtime's entry point."""

from berth.runtime.cli import run_and_exit

run_and_exit()
