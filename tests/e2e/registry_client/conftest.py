"""Fixtures of the registry client's e2e tests: loopback docker-registry instances."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from tests.e2e.registry_client.registries import Registry, running_registry
from tests.e2e.registry_client.token_server import ISSUER, SERVICE, TokenServer, token_server


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with running_registry() as reg:
        yield reg


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[Registry]:
    with running_registry(user="alice", password="s3cret-pw") as reg:
        yield reg


@pytest.fixture(scope="module")
def token_registry() -> Iterator[tuple[Registry, TokenServer]]:
    """docker-registry in token mode, its token server accepting carol / t0ken-pw."""
    root = tempfile.mkdtemp(prefix="bt-reg-", dir="/tmp")
    with token_server(root, "carol", "t0ken-pw") as ts:
        settings = {"realm": ts.realm, "service": SERVICE, "issuer": ISSUER, "rootcertbundle": ts.cert_path}
        with running_registry(token=settings, root=root) as reg:
            yield reg, ts
