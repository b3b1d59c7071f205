"""Composition root: builds stores, services and the API from the config, restores state, serves."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Collection, Sequence
from typing import Any

from berth import __version__
from berth.api.backends import ContainerCounts, EngineFacts, EventSource
from berth.api.http.router import Route, Router
from berth.api.http.server import HttpServer
from berth.api.middleware import Application, error_response
from berth.api.routes import containers as containers_routes
from berth.api.routes import exec as exec_routes
from berth.api.routes import images as images_routes
from berth.api.routes import networks as networks_routes
from berth.api.routes import refused as refused_routes
from berth.api.routes import system as system_routes
from berth.api.routes import volumes as volumes_routes
from berth.daemon import userns
from berth.daemon.config import DaemonConfig
from berth.daemon.containers import spec_seccomp
from berth.daemon.containers.archive import ArchiveService
from berth.daemon.containers.execs import ExecService
from berth.daemon.containers.facade import ContainersFacade
from berth.daemon.containers.health import HealthChecks
from berth.daemon.containers.model import State
from berth.daemon.containers.rootfs import RootfsMounter
from berth.daemon.containers.service import ContainersService
from berth.daemon.containers.spec_linux import default_capabilities
from berth.daemon.containers.store import ContainerStore
from berth.daemon.containers.volumeuse import ContainerVolumes
from berth.daemon.events import EventBus
from berth.daemon.images.registry import RegistryOptions, RegistryService
from berth.daemon.images.service import ImagesService
from berth.daemon.networks.facade import NetworksFacade
from berth.daemon.networks.service import NetworksService
from berth.daemon.shimclient import ShimLauncher, python_env
from berth.daemon.volumes.service import VolumesService
from berth.util.atomic import SyncLater, write_atomic
from berth.util.ids import generate_id
from berth.zygote.client import Zygote

__all__ = ["run_daemon"]

log = logging.getLogger(__name__)


class SystemFacade:
    """The system routes' backend: engine facts and counts over the services."""

    def __init__(self, cfg: DaemonConfig, engine_id: str, events: EventBus, containers: ContainersService,
                 images: ImagesService, facade: ContainersFacade, volumes: VolumesService) -> None:
        self.cfg = cfg
        self.volumes = volumes
        self.engine_id = engine_id
        self._events = events
        self.containers = containers
        self.images = images
        self.facade = facade

    @property
    def events(self) -> EventSource:
        return self._events

    def engine_facts(self) -> EngineFacts:
        return EngineFacts(
            id=self.engine_id, name=os.uname().nodename, data_root=self.cfg.data_root, labels=self.cfg.labels,
            debug=self.cfg.debug, userns=bool(self.cfg.userns_remap), seccomp_profile="builtin",
        )

    def container_counts(self) -> ContainerCounts:
        states = [c.state for c in self.containers.containers.values()]
        running = sum(1 for s in states if s == State.RUNNING)
        paused = sum(1 for s in states if s == State.PAUSED)
        return ContainerCounts(running=running, paused=paused, stopped=len(states) - running - paused)

    def image_count(self) -> int:
        return self.images.image_count()

    def client_arrived(self) -> None:
        self.containers.prime_migration()  # a `docker run` or `exec` moves a process into a cgroup 15-30 ms later

    async def disk_usage(self, types: Sequence[str]) -> dict[str, Any]:
        """`system df`: every section, or only those of `types` (container, image, volume, build-cache)."""
        want = set(types) or {"container", "image", "volume", "build-cache"}
        body: dict[str, Any] = {}
        if "image" in want:
            using = self.containers.using_image
            body["LayersSize"], body["Images"] = await asyncio.to_thread(
                self.images.disk_usage, lambda image_id: len(using(image_id)))
        if "container" in want:
            body["Containers"] = await asyncio.to_thread(self.facade.list_summaries, True, -1, {}, True)
        if "volume" in want:
            body["Volumes"] = await asyncio.to_thread(self._volume_usage)
        if "build-cache" in want:
            body["BuildCache"] = []
        return body


    def _volume_usage(self) -> list[dict[str, Any]]:
        out = []
        for v in self.volumes.volumes():
            usage = {"Size": self.volumes.size(v.name), "RefCount": len(self.volumes.users(v.name))}
            out.append({**v.to_api(self.volumes.root), "UsageData": usage})
        return out


def _engine_id(data_root: str) -> str:
    path = os.path.join(data_root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        value = generate_id()
        write_atomic(path, value.encode())
        return value


def _runtime_argv(cfg: DaemonConfig) -> list[str]:
    """The OCI runtime the shims drive: ours (the same interpreter) unless --runtime names another."""
    if cfg.runtime:
        return list(cfg.runtime)
    return [sys.executable, "-S", "-m", "berth.runtime"]


class TaskOwner:
    """Owns the daemon's background tasks (monitors, detached execs); failures are logged, not lost."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, aw: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await aw
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed")

        task = asyncio.get_running_loop().create_task(guarded())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def cancel_all(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        for t in list(self.tasks):
            with contextlib.suppress(BaseException):
                await t


async def run_daemon(cfg: DaemonConfig) -> None:
    """Start everything, serve until SIGTERM/SIGINT, then stop listening (containers keep running)."""
    for d in (cfg.data_root, cfg.exec_root, cfg.shims_root, cfg.runtime_root):
        os.makedirs(d, mode=0o711, exist_ok=True)
    idmap = userns.resolve(cfg.userns_remap) if cfg.userns_remap else None
    if idmap is not None:  # dockerd's layout: everything of a remapped daemon under <data-root>/<uid>.<gid>
        cfg = dataclasses.replace(cfg, data_root=userns.prepare_remapped_root(cfg.data_root, idmap))
    events = EventBus()
    owner = TaskOwner()
    holder: dict[str, ContainersService] = {}

    def containers_using(image_id: str) -> list[str]:
        return holder["c"].using_image(image_id) if "c" in holder else []

    def container_running(cid: str) -> bool:
        c = holder["c"].containers.get(cid) if "c" in holder else None
        return c is not None and c.state == State.RUNNING

    def container_info(ref: str) -> tuple[str, str, dict[str, Any]]:
        c = holder["c"].get(ref)
        return c.id, c.image_id, c.config

    dist = RegistryService.store(cfg.data_root)
    images = ImagesService.open(cfg.data_root, idmap=idmap, containers_using=containers_using,
                                container_running=container_running, events=events,
                                container_info=container_info, retained_blobs=dist.retained)
    registry = RegistryService(images, dist, RegistryOptions(
        insecure=cfg.insecure_registries, mirrors=cfg.registry_mirrors,
        max_downloads=cfg.max_concurrent_downloads, max_uploads=cfg.max_concurrent_uploads))
    zygote = Zygote(cfg.exec_root, sys.executable, python_env())
    await zygote.start()  # it loads while we restore; launches go direct until it serves
    shims = ShimLauncher(cfg.shims_root, _runtime_argv(cfg), runtime_root=cfg.runtime_root, zygote=zygote,
                         idle_after=cfg.shim_idle_after)
    if not cfg.runtime:  # berth-runtime keeps compiled seccomp filters next to its state root
        cache = os.path.join(os.path.dirname(cfg.runtime_root), "berth-seccomp-cache")
        owner.spawn(asyncio.to_thread(spec_seccomp.prewarm, cache, default_capabilities()))
    networks = NetworksService(cfg.data_root, cfg.exec_root, cfg.bridge, cfg.bip, cfg.nft_table)
    await networks.init()
    syncer = SyncLater()
    container_store = ContainerStore(os.path.join(cfg.data_root, "containers"), syncer)
    if idmap is not None:
        os.chown(container_store.root, 0, idmap.root_gid)
    volumes = VolumesService(os.path.join(cfg.data_root, "volumes"),
                             users=lambda name: ContainerVolumes.users(holder["c"].containers.values(), name)
                             if "c" in holder else [])
    containers = ContainersService(
        store=container_store, images=images, shims=shims, idmap=idmap,
        events=events, mounter=RootfsMounter(), spawn=owner.spawn, cgroup_parent=cfg.cgroup_parent,
        init_path=cfg.init_path if os.access(cfg.init_path, os.X_OK) else None, network=networks,
        prime_migration=zygote.prime, volumes=volumes,
    )
    holder["c"] = containers
    networks.container_names = lambda: {c.id: c.name for c in containers.containers.values()}
    await containers.restore()
    execs = ExecService(containers)

    def image_matches(value: str) -> Collection[str]:
        try:
            return {images.get(value).id}
        except Exception:
            return set()

    containers.health = HealthChecks(containers, execs, owner.spawn)
    facade = ContainersFacade(containers, execs, image_matches, ArchiveService(containers, python_env()))
    system = SystemFacade(cfg, _engine_id(cfg.data_root), events, containers, images, facade, volumes)
    route_lists: list[list[Route]] = [
        images_routes.routes(images, registry), system_routes.routes(system), containers_routes.routes(facade),
        exec_routes.routes(facade), refused_routes.routes(),
        networks_routes.routes(NetworksFacade(networks, containers)), volumes_routes.routes(volumes),
    ]
    router = Router([r for routes in route_lists for r in routes])
    server = HttpServer(Application(router, __version__), on_error=error_response, socket_group=cfg.group)
    await server.start(list(cfg.hosts))
    log.info("berthd %s serving on %s (data root %s)", __version__, ", ".join(cfg.hosts), cfg.data_root)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down: containers keep running under their shims")
        await server.close()
        await owner.cancel_all()
        await zygote.stop()
        await networks.shutdown()
        syncer.close()
        images.meta.close()
        registry.close()

