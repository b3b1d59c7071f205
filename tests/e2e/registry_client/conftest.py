"""Fixtures of the registry client's e2e tests: loopback docker-registry instances."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.registry_client.registries import Registry, running_registry


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with running_registry() as reg:
        yield reg


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[Registry]:
    with running_registry(user="alice", password="s3cret-pw") as reg:
        yield reg
