"""Shared fixtures: a busybox rootfs and root/privilege markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.rootfs import make_busybox_rootfs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Privileged and e2e tests need root; on CI (root) they always run, elsewhere they skip."""
    if os.geteuid() == 0:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("CI must run the test suite as root: privileged tests may not be skipped")
    skip = pytest.mark.skip(reason="needs root (privileged/e2e)")
    for item in items:
        if "privileged" in item.keywords or "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention busybox rootfs shared by the session's tests."""
    root = tmp_path_factory.mktemp("busybox") / "rootfs"
    make_busybox_rootfs(str(root))
    return root
