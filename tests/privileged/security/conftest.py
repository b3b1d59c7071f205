"""Fixtures for the security tests: the runtime tests' bundles and runtimes, re-exported."""

from __future__ import annotations

from tests.privileged.runtime.conftest import make_bundle, runc, runtime

__all__ = ["make_bundle", "runc", "runtime"]
