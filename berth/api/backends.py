"""Protocols the route modules need from the daemon's services (moby's backend.go style)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["ContainerCounts", "EngineFacts", "EventSource", "EventSubscription", "SystemBackend"]


@dataclass(frozen=True)
class EngineFacts:
    """Daemon configuration facts shown by /info and /version."""

    id: str
    name: str
    data_root: str
    labels: tuple[str, ...] = ()
    debug: bool = False
    runtimes: Mapping[str, str] = field(default_factory=lambda: {"berth-runtime": "berth-runtime"})
    default_runtime: str = "berth-runtime"
    storage_driver: str = "overlay2"
    logging_driver: str = "json-file"
    cgroup_driver: str = "cgroupfs"
    init_binary: str = ""
    insecure_registries: tuple[str, ...] = ("127.0.0.0/8",)
    registry_mirrors: tuple[str, ...] = ()
    live_restore: bool = False
    userns: bool = False
    seccomp_profile: str = ""  # "" while containers run without seccomp; else the profile's name ("builtin")


@dataclass(frozen=True)
class ContainerCounts:
    running: int = 0
    paused: int = 0
    stopped: int = 0

    @property
    def total(self) -> int:
        return self.running + self.paused + self.stopped


class EventSubscription(Protocol):
    async def get(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


class EventSource(Protocol):
    """The daemon's event bus as the API sees it (berth.daemon.events.EventBus satisfies it)."""

    def subscribe(
        self,
        filters: Mapping[str, list[str]] | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> tuple[list[dict[str, Any]], EventSubscription]: ...

    def history(
        self,
        filters: Mapping[str, list[str]] | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> list[dict[str, Any]]: ...

    def listener_count(self) -> int: ...


class SystemBackend(Protocol):
    """What routes/system.py needs: engine facts, object counts and the event bus."""

    @property
    def events(self) -> EventSource: ...

    def engine_facts(self) -> EngineFacts: ...

    def container_counts(self) -> ContainerCounts: ...

    def image_count(self) -> int: ...

    def client_arrived(self) -> None:
        """A client pinged (every docker CLI command starts so): what it asks next may start a process."""

    async def disk_usage(self, types: Sequence[str]) -> dict[str, Any]: ...
