"""Docker/OCI image config documents (oci layer): the container-config shape and config builders."""

from __future__ import annotations

import copy
import json
import platform
from typing import Any

__all__ = [
    "empty_container_config",
    "go_arch",
    "image_config",
    "serialize",
]

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64"}

_EMPTY_CONTAINER_CONFIG: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


def go_arch(machine: str | None = None) -> str:
    """This machine's architecture in Go's GOARCH spelling (what image configs carry)."""
    m = machine or platform.machine()
    return _ARCH.get(m, m)


def empty_container_config() -> dict[str, Any]:
    """Docker's container.Config with every always-present field at its zero value."""
    return copy.deepcopy(_EMPTY_CONTAINER_CONFIG)


def image_config(
    *,
    config: dict[str, Any],
    diff_ids: list[str],
    created: str,
    history: list[dict[str, Any]],
    comment: str = "",
    author: str = "",
    docker_version: str = "",
    architecture: str | None = None,
) -> dict[str, Any]:
    """A Docker image config (docker-image-spec v1.3 with OCI config fields)."""
    doc: dict[str, Any] = {
        "architecture": architecture or go_arch(),
        "config": config,
        "created": created,
        "docker_version": docker_version,
        "history": history,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
    }
    if comment:
        doc["comment"] = comment
    if author:
        doc["author"] = author
    return doc


def serialize(doc: dict[str, Any]) -> bytes:
    """Canonical bytes for a config we create (its digest is the image id)."""
    return json.dumps(doc, separators=(",", ":")).encode()
