"""The runtime's user-facing error (runtime layer): printed as one line, exit status 1."""

from __future__ import annotations


class RuntimeFailure(Exception):
    """A failure the runtime reports on stderr before exiting with status 1."""
