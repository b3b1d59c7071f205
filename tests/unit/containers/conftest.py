"""Containers tests: the runtime's bundle and runtime fixtures, for the end-to-end spec check."""

from __future__ import annotations

from tests.privileged.runtime.conftest import make_bundle, runtime

__all__ = ["make_bundle", "runtime"]
