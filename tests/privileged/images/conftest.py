"""Fixtures of the image privileged tests: stores on a temp data root, tar builders, mounts cleaned up."""

from __future__ import annotations

import io
import os
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.kernel import abi
from berth.kernel import mount as kmount
from berth.store.metadata import MetadataStore
from berth.store.snapshots.overlay import Snapshotter

DEBIAN_PYTHON = "/usr/bin/python3.11"


def interpreters() -> list[str]:
    """The venv's Python, and Debian's 3.11.2 (no tarfile filters) when this machine has it."""
    found = [sys.executable]
    if os.path.exists(DEBIAN_PYTHON) and os.path.realpath(DEBIAN_PYTHON) != os.path.realpath(sys.executable):
        found.append(DEBIAN_PYTHON)
    return found


@pytest.fixture(params=interpreters())
def snapshotter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Snapshotter]:
    meta = MetadataStore(str(tmp_path / "metadata.db"))
    try:
        yield Snapshotter(str(tmp_path / "snapshots"), meta, python=request.param)
    finally:
        meta.close()


class TarBuilder:
    """Builds layer tars member by member (PAX, so xattrs travel as SCHILY.xattr.*)."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def add(self, name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644,
            linkname: str = "", dev: tuple[int, int] = (0, 0), pax: dict[str, str] | None = None,
            uid: int = 0, gid: int = 0) -> TarBuilder:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.uid, info.gid = uid, gid
        info.linkname = linkname
        info.devmajor, info.devminor = dev
        info.mtime = 1_700_000_000
        info.pax_headers = pax or {}
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        self.tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        return self

    def dir(self, name: str, mode: int = 0o755) -> TarBuilder:
        return self.add(name, tarfile.DIRTYPE, mode=mode)

    def bytes(self) -> bytes:
        self.tar.close()
        return self.buf.getvalue()


@pytest.fixture
def mounts() -> Iterator[list[str]]:
    """Targets the test mounted; unmounted (lazily) even when the test fails."""
    targets: list[str] = []
    try:
        yield targets
    finally:
        for target in reversed(targets):
            try:
                kmount.umount2(target, abi.MNT_DETACH)
            except OSError:
                pass
