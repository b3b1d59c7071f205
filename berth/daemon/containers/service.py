"""Container lifecycle: create, start, stop, kill, restart, remove, rename, wait, restore after restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal as signals
from collections.abc import Awaitable, Callable
from typing import Any

from berth import errdefs
from berth.daemon.containers import etcfiles, logconfig, resource_update, restartpolicy, spec, users
from berth.daemon.containers.endpoints import requested_endpoints
from berth.daemon.containers.model import Container, State, start_error
from berth.daemon.containers.names import NameIndex
from berth.daemon.containers.networking import ContainerNetwork
from berth.daemon.containers.ports import (
    EventSink,
    HealthMonitor,
    ImageLookup,
    NetworkAttacher,
    NoHealthMonitor,
    ShimLauncher,
    Spawner,
    VolumeStore,
)
from berth.daemon.containers.rootfs import RootfsMounter
from berth.daemon.containers.runstate import RunState, Waiter
from berth.daemon.containers.signals import parse_signal
from berth.daemon.containers.store import TRASH_PREFIX, ContainerStore
from berth.daemon.containers.volumeuse import ContainerVolumes
from berth.util.idmap import IdMap
from berth.util.ids import generate_id, random_name
from berth.util.timefmt import now_ns

__all__ = ["ContainersService"]

log = logging.getLogger(__name__)

WAIT_CONDITIONS = ("not-running", "next-exit", "removed")


class ContainersService:
    """Owns every container record and drives shims; the API's containers backend."""

    def __init__(
        self,
        store: ContainerStore,
        images: ImageLookup,
        shims: ShimLauncher,
        events: EventSink,
        mounter: RootfsMounter,
        spawn: Spawner,
        cgroup_parent: str,
        init_path: str | None = None,
        idmap: IdMap | None = None,
        network: NetworkAttacher | None = None,
        prime_migration: Callable[[], None] = lambda: None,
        volumes: VolumeStore | None = None,
    ) -> None:
        self.store = store
        self.images = images
        self.shims = shims
        self.events = events
        self.mounter = mounter
        self.spawn = spawn
        self.cgroup_parent = cgroup_parent
        self.init_path = init_path
        self.idmap = idmap  # --userns-remap
        self.network = network
        self.net = ContainerNetwork(network, self.get, store.flush_later)
        self.volumes = ContainerVolumes(volumes)
        self.restarts = restartpolicy.RestartScheduler(self._start_locked, store.save, spawn,
                                                       lambda cid: cid in self.containers)
        # called as a create, start or exec comes in: the runtime's cgroup move a few ms later is then quick
        self.prime_migration = prime_migration
        self.names = NameIndex()
        self.health: HealthMonitor = NoHealthMonitor()  # the composition root sets the real one
        self.containers: dict[str, Container] = {}
        self.run: dict[str, RunState] = {}

    # -- lookup ---------------------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        return self.containers[self.names.resolve(ref)]

    def state_of(self, c: Container) -> RunState:
        return self.run.setdefault(c.id, RunState())

    def listing(self) -> list[Container]:
        return sorted(self.containers.values(), key=lambda c: c.created, reverse=True)

    def save_record(self, c: Container) -> None:
        self.store.save(c)

    def using_image(self, image_id: str) -> list[str]:
        return [c.id for c in self.containers.values() if c.image_id == image_id]

    def emit(self, c: Container, action: str, **extra: str) -> None:
        attrs = {"name": c.name, "image": c.image, **extra}
        attrs.update({k: str(v) for k, v in (c.config.get("Labels") or {}).items()})
        self.events.publish("container", action, c.id, attrs)

    # -- create ---------------------------------------------------------------------------------
    async def create(self, body: dict[str, Any], name: str | None) -> tuple[str, list[str]]:
        image_ref = body.get("Image")
        if not isinstance(image_ref, str) or not image_ref:
            raise errdefs.InvalidParameter("Config cannot be empty in order to create a container")
        image = self.images.get(image_ref)
        self.prime_migration()
        host_config = body.get("HostConfig") or {}
        if not isinstance(host_config, dict):
            raise errdefs.InvalidParameter("HostConfig must be an object")
        cid = generate_id()
        bare = self._reserve_name(name, cid)
        c: Container | None = None
        try:
            c = Container.new(
                cid=cid,
                name=bare,
                image=image_ref,
                image_id=image.id,
                config=spec.merge_image_config(body, image.config),
                host_config=host_config,
                root=self.store.dir_of(cid),
            )
            c.networks = requested_endpoints(body, c.host_config)
            # a network that does not exist fails the start, not the create (as dockerd): a 404 here would send
            # the docker CLI looking for the image in a registry
            spec.validate(c.config, c.host_config, self.idmap)
            logconfig.validate(c.host_config)
            self.volumes.inherit(c, self.get)  # as dockerd: what --volumes-from gives first, then its own
            self.volumes.make(c)
            os.makedirs(c.root, mode=0o710, exist_ok=False)
            self.store.flush_later(etcfiles.write_all(c.root, c.config, c.host_config, durable=False))
            self._hand_to_remapped_root(c)
            self.images.rootfs_mount(cid, image.id)
            self.store.save(c)
        except BaseException:
            self.names.forget(cid, bare)
            self.volumes.drop_anonymous(c)
            self.images.release_rootfs(cid)
            shutil.rmtree(self.store.dir_of(cid), ignore_errors=True)
            raise
        self.containers[cid] = c
        self.emit(c, "create")
        return cid, []

    def _hand_to_remapped_root(self, c: Container) -> None:
        """Under --userns-remap (as dockerd): the remapped root may walk the container's directory and owns
        its /etc/hosts, /etc/hostname and /etc/resolv.conf."""
        if self.idmap is None:
            return
        os.chown(c.root, 0, self.idmap.root_gid)
        if spec.remapped(c.host_config, self.idmap) is None:
            return
        for path in (c.hosts_path, c.hostname_path, c.resolv_conf_path):
            if os.path.exists(path):
                os.chown(path, self.idmap.root_uid, self.idmap.root_gid)

    def _reserve_name(self, name: str | None, cid: str) -> str:
        if name:
            return self.names.reserve(name, cid)
        for _ in range(100):
            candidate = random_name()
            if not self.names.has_name(candidate):
                return self.names.reserve(candidate, cid)
        raise errdefs.System("could not generate a container name")

    # -- start ----------------------------------------------------------------------------------
    async def start(self, ref: str) -> None:
        c = self.get(ref)
        self.prime_migration()
        rs = self.state_of(c)
        async with rs.lock:
            if c.state == State.RUNNING:
                raise errdefs.NotModified("container already started")
            if c.state == State.REMOVING:
                raise errdefs.Conflict(f"container {c.id} is marked for removal and cannot be started")
            rs.cancel_restart()  # a user's start now, not the policy's later
            c.manually_stopped = False
            rs.backoff = restartpolicy.Backoff()
            await self._start_locked(c, rs)

    def mount_rootfs(self, c: Container) -> asyncio.Future[None]:
        """Mount the container's overlay rootfs at c.rootfs, on a thread (its directory exists on return)."""
        os.makedirs(c.rootfs, exist_ok=True)
        mount = self.images.rootfs_mount(c.id, c.image_id)
        return asyncio.ensure_future(asyncio.to_thread(self.mounter.mount, mount, c.rootfs))

    async def _start_locked(self, c: Container, rs: RunState) -> None:
        bundle, rootfs = os.path.dirname(c.rootfs), c.rootfs
        mounting = self.mount_rootfs(c)  # on a thread while the network and the spec are made
        net_ready: Awaitable[object] | None = None
        try:
            ns_paths, net_ready = await self.net.up(c)
            user = users.resolve(c.config.get("User") or "", self.images.layer_dirs(c.id, c.image_id),
                                 c.host_config.get("GroupAdd") or [])
            volumes = self.volumes.mounts(c)
            oci = spec.build(c, user=user, rootfs=rootfs, cgroups_path=f"/{self.cgroup_parent}/{c.id}",
                             init_path=self.init_path, idmap=self.idmap, ns_paths=ns_paths,
                             volume_paths={name: path for name, path, _ in volumes})
            spec.write(bundle, oci)
            await mounting
            if volumes:
                await asyncio.to_thread(self.volumes.fill, volumes, rootfs)
            shim, pid = await self.shims.launch(
                c.id, bundle, logconfig.log_target(c.host_config, c.log_path), stdin=bool(c.config.get("OpenStdin")),
                tty=bool(c.config.get("Tty")))
        except Exception as exc:
            for task in (mounting, net_ready):
                if task is not None:
                    await asyncio.gather(task, return_exceptions=True)
            err = start_error(exc, c.config)
            await self._start_failed(c, rs, rootfs, err)
            raise err from exc
        if net_ready is not None:
            try:
                await net_ready  # the published ports work before the container's process runs
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await shim.delete()
                err = start_error(exc, c.config)
                await self._start_failed(c, rs, rootfs, err)
                raise err from exc
        rs.shim = shim
        rs.exited = asyncio.Event()
        rs.stopping = False
        for pending in rs.pending_attach:
            if not pending.connected.done():
                try:
                    stream = await shim.attach(pending.stdin, pending.stdout, pending.stderr)
                except Exception as exc:  # the attacher sees the error; the start goes on
                    pending.connected.set_exception(exc)
                else:
                    pending.connected.set_result(stream)
        rs.pending_attach.clear()
        await shim.start()
        c.mark_running(pid, now_ns())
        self.health.started(c, fresh=True)
        self.store.save(c)
        self.emit(c, "start")
        self.spawn(self._monitor(c, rs))

    async def _start_failed(self, c: Container, rs: RunState, rootfs: str, err: errdefs.BerthError) -> None:
        """Docker's way: record the error and code, close waiting attachers, honour AutoRemove."""
        await self.net.down(c)
        await asyncio.to_thread(self.mounter.unmount, rootfs)
        self.shims.cleanup(c.id)
        c.mark_start_failed(str(err))
        self.store.save(c)
        rs.fail_pending(err)
        rs.resolve_waiters(("next-exit",), {"StatusCode": c.exit_code, "Error": {"Message": str(err)}})
        if c.host_config.get("AutoRemove"):
            await self._remove(c, rs, volumes=False)

    async def _monitor(self, c: Container, rs: RunState) -> None:
        """Waits for the container's init to exit, then records it and tidies up."""
        shim = rs.shim
        assert shim is not None
        try:
            result = await shim.wait()
        except (OSError, EOFError, ValueError, errdefs.BerthError) as exc:  # ValueError: a garbled answer
            log.warning("lost the shim of %s: %s", c.id[:12], exc)
            result = await self._shim_lost(c)
        await self._on_exit(c, rs, int(result.get("exit_code", 255)), int(result.get("finished_at") or now_ns()))

    async def _on_exit(self, c: Container, rs: RunState, code: int, finished_at: int) -> None:
        self.health.stopped(c)
        shim, rs.shim = rs.shim, None
        if shim is not None:
            try:
                await shim.delete()
            except Exception as exc:
                log.warning("shim delete of %s failed: %s", c.id[:12], exc)
        self.shims.cleanup(c.id)
        await self.net.down(c)
        if not c.host_config.get("AutoRemove"):  # else the removal's disposal unmounts it
            self.mounter.unmount_later(c.rootfs)  # waited for by mount/remove
        restart = not rs.stopping and c.state != State.REMOVING and restartpolicy.should_restart(
            c.host_config, code, c.manually_stopped, c.restart_count)
        ran_for = (finished_at - c.started_at) / 1e9
        c.mark_exited(code, finished_at)
        if not c.host_config.get("AutoRemove"):  # else its record goes in a moment
            self.store.save(c)
        self.emit(c, "die", exitCode=str(code))
        rs.exited.set()
        rs.resolve_waiters(("not-running", "next-exit"), {"StatusCode": code, "Error": None})
        if restart:
            self.restarts.schedule(c, rs, rs.backoff.next(ran_for))
            return
        if c.host_config.get("AutoRemove"):
            try:
                await self._remove(c, rs, volumes=False)
            except errdefs.BerthError as exc:
                log.warning("auto-remove of %s failed: %s", c.id[:12], exc)

    # -- stop / kill / restart ------------------------------------------------------------------
    async def stop(self, ref: str, timeout: int | None, signal: str | None) -> None:
        c = self.get(ref)
        rs = self.state_of(c)
        if c.state in (State.RUNNING, State.PAUSED, State.RESTARTING):
            c.manually_stopped = True
            self.store.save(c)
        if self.restarts.call_off(c, rs):
            return
        if c.state not in (State.RUNNING, State.PAUSED) or rs.shim is None:
            raise errdefs.NotModified("container already stopped")
        await self._stop(c, rs, timeout, signal)

    async def _stop(self, c: Container, rs: RunState, timeout: int | None, signal: str | None) -> None:
        if timeout is None:
            configured = c.config.get("StopTimeout")
            timeout = int(configured) if configured is not None else 10
        sig = parse_signal(signal or c.config.get("StopSignal") or "SIGTERM")
        rs.stopping = True
        shim = rs.shim
        if shim is None:
            return
        try:
            await shim.kill(sig)
        except errdefs.BerthError:
            pass
        await self._thaw(c, rs)
        if timeout >= 0:
            try:
                async with asyncio.timeout(timeout):
                    await rs.exited.wait()
                return
            except TimeoutError:
                pass
        try:
            await shim.kill(signals.SIGKILL, all=True)
        except errdefs.BerthError:
            pass
        await rs.exited.wait()

    async def _thaw(self, c: Container, rs: RunState) -> None:
        """A paused container is resumed once signalled, so that the signal takes effect (as dockerd does)."""
        if c.state != State.PAUSED or rs.shim is None:
            return
        try:
            await rs.shim.resume()
        except errdefs.BerthError as exc:
            log.warning("could not resume %s: %s", c.id[:12], exc)
            return
        c.mark_paused(False)
        self.store.save(c)
        self.emit(c, "unpause")

    async def kill(self, ref: str, signal: str | None) -> None:
        c = self.get(ref)
        rs = self.state_of(c)
        sig = parse_signal(signal or "SIGKILL")
        if c.state in (State.RUNNING, State.PAUSED, State.RESTARTING):
            c.manually_stopped = True
            stop_signal = c.config.get("StopSignal")
            if not stop_signal or sig in (signals.SIGKILL, parse_signal(str(stop_signal))):
                rs.stopping = True  # as dockerd: this exit does not count for the restart policy
            self.store.save(c)
        if self.restarts.call_off(c, rs):
            return
        if c.state not in (State.RUNNING, State.PAUSED) or rs.shim is None:
            raise errdefs.Conflict(f"Cannot kill container: {ref}: container {c.id} is not running")
        await rs.shim.kill(sig, all=sig == signals.SIGKILL)
        self.emit(c, "kill", signal=str(sig))
        await self._thaw(c, rs)
        if sig == signals.SIGKILL:
            await rs.exited.wait()

    async def pause(self, ref: str) -> None:
        c = self.get(ref)
        rs = self.state_of(c)
        async with rs.lock:
            if c.state == State.PAUSED:
                raise errdefs.Conflict(f"Container {c.id} is already paused")
            if c.state != State.RUNNING or rs.shim is None:
                raise errdefs.Conflict(f"Container {c.id} is not running")
            await rs.shim.pause()
            c.mark_paused(True)
            self.store.save(c)
        self.emit(c, "pause")

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        """`docker update`: new cgroup limits and restart policy, kept with the container and, while it runs,
        applied to its cgroup at once (dockerd's texts and statuses)."""
        changed = resource_update.requested(body)
        c = self.get(ref)
        rs = self.state_of(c)
        async with rs.lock:
            try:
                host_config = resource_update.updated_host_config(c.host_config, body, changed)
                if changed and c.state in (State.RUNNING, State.PAUSED) and rs.shim is not None:
                    await rs.shim.update(resource_update.live_resources(changed))
            except errdefs.Conflict as exc:
                raise errdefs.Conflict(f"Cannot update container {c.id}: {exc}") from None
            except errdefs.InvalidParameter:
                raise
            except errdefs.BerthError as exc:
                raise errdefs.System(f"Cannot update container {c.id}: {exc}") from None
            c.host_config = host_config
            self.store.save(c)
        self.emit(c, "update")
        return []

    async def unpause(self, ref: str) -> None:
        c = self.get(ref)
        rs = self.state_of(c)
        async with rs.lock:
            if c.state != State.PAUSED or rs.shim is None:
                raise errdefs.Conflict(f"Container {c.id} is not paused")
            await rs.shim.resume()
            c.mark_paused(False)
            self.store.save(c)
        self.emit(c, "unpause")

    async def restart(self, ref: str, timeout: int | None, signal: str | None) -> None:
        c = self.get(ref)
        rs = self.state_of(c)
        self.restarts.call_off(c, rs)
        if c.state in (State.RUNNING, State.PAUSED) and rs.shim is not None:
            await self._stop(c, rs, timeout, signal)
        async with rs.lock:
            if c.state != State.RUNNING:  # RestartCount counts the restart policy's starts, not these
                c.manually_stopped = False
                rs.backoff = restartpolicy.Backoff()
                await self._start_locked(c, rs)
        self.emit(c, "restart")

    # -- wait -----------------------------------------------------------------------------------
    async def wait_register(self, ref: str, condition: str) -> asyncio.Future[dict[str, Any]]:
        """Registers a waiter now (so that the route can flush its headers) and returns its future."""
        if condition not in WAIT_CONDITIONS:
            raise errdefs.InvalidParameter(f"invalid condition: {condition!r}")
        c = self.get(ref)
        rs = self.state_of(c)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if condition == "not-running" and c.state not in (State.RUNNING, State.PAUSED, State.RESTARTING):
            fut.set_result({"StatusCode": c.exit_code, "Error": None})
        else:
            rs.waiters.append(Waiter(condition, fut))
        return fut

    # -- remove / rename / prune ----------------------------------------------------------------
    async def remove(self, ref: str, force: bool, volumes: bool) -> None:
        c = self.get(ref)
        rs = self.state_of(c)
        if c.state == State.RESTARTING:
            if not force:
                raise errdefs.Conflict(f"cannot remove container \"/{c.name}\": container is restarting: stop the "
                                       "container before removing or force remove")
            self.restarts.call_off(c, rs)
        if c.state in (State.RUNNING, State.PAUSED):
            if not force:
                if c.state == State.PAUSED:
                    raise errdefs.Conflict(
                        f"cannot remove container \"/{c.name}\": container is paused and must be unpaused first")
                raise errdefs.Conflict(
                    f"cannot remove container \"/{c.name}\": container is running: "
                    "stop the container before removing or force remove"
                )
            rs.stopping = True  # no restart policy brings it back
            if rs.shim is not None:
                try:
                    await rs.shim.kill(signals.SIGKILL, all=True)
                except errdefs.BerthError:
                    pass
                await self._thaw(c, rs)
                await rs.exited.wait()
            if c.id not in self.containers:  # AutoRemove got there first
                return
        await self._remove(c, rs, volumes)

    async def _remove(self, c: Container, rs: RunState, volumes: bool) -> None:
        if c.state == State.REMOVING or c.id not in self.containers:
            return
        c.state = State.REMOVING  # in memory only: the record goes away in one rename below
        await self._finish_remove(c, rs)
        if volumes or c.host_config.get("AutoRemove"):  # as dockerd: rm -v and --rm take the anonymous ones
            self.volumes.drop_anonymous(c)

    async def _finish_remove(self, c: Container, rs: RunState) -> None:
        """Unmount, take the record away atomically, answer; the disk clean-up goes on in the background."""
        rs.fail_pending(errdefs.NotFound(f"No such container: {c.id}"))
        await self.net.down(c)
        # an unmount under way must end before the rename moves its path; the disposal unmounts what is left
        await asyncio.to_thread(self.mounter.settle, c.rootfs)
        trash = self.store.discard(c.id)
        self.spawn(asyncio.to_thread(self._dispose, c.id, trash))
        self.containers.pop(c.id, None)
        self.run.pop(c.id, None)
        self.names.forget(c.id, c.name)
        self.emit(c, "destroy")
        rs.resolve_waiters(
            ("removed", "not-running", "next-exit"), {"StatusCode": c.exit_code, "Error": None}
        )

    def rename(self, ref: str, new_name: str) -> None:
        c = self.get(ref)
        if not new_name:
            raise errdefs.InvalidParameter("Neither old nor new names may be empty")
        old = c.name
        try:
            bare = self.names.reserve(new_name, c.id)
        except (errdefs.Conflict, errdefs.InvalidParameter) as exc:  # dockerd's wording, the same kind
            raise type(exc)(f"Error when allocating new name: {exc}") from None
        if bare == old:
            raise errdefs.InvalidParameter("Renaming a container with the same name as its current name")
        self.names.release(old)
        c.name = bare
        self.store.save(c)
        self.emit(c, "rename", oldName=f"/{old}")

    async def prune(self, matches: Any) -> tuple[list[str], int]:
        deleted: list[str] = []
        for c in list(self.containers.values()):
            if c.state in (State.EXITED, State.CREATED, State.DEAD) and matches(c):
                await self._remove(c, self.state_of(c), volumes=False)
                deleted.append(c.id)
        return deleted, 0

    # -- restore after a daemon restart ---------------------------------------------------------
    def _dispose(self, cid: str, trash: str | None) -> None:
        """What a removed container leaves on disk: its rootfs mount, writable layer, shim dir and (renamed)
        directory."""
        self.mounter.unmount(os.path.join(trash or self.store.dir_of(cid), "bundle", "rootfs"))
        self.images.release_rootfs(cid)
        self.shims.cleanup(cid)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    async def restore(self) -> None:
        """Loads every record and reconnects to live shims; containers that died meanwhile get their code."""
        for c in self.store.load_all():
            self.containers[c.id] = c
            self.names.reserve(c.name, c.id)
        for trash in self.store.trash():  # removals a killed daemon did not finish
            cid = os.path.basename(trash).removeprefix(TRASH_PREFIX)
            if cid not in self.containers:
                self.spawn(asyncio.to_thread(self._dispose, cid, trash))
        for cid in self.images.writable_layer_owners():
            if cid not in self.containers:
                self.spawn(asyncio.to_thread(self._dispose, cid, None))
        for c in list(self.containers.values()):
            if c.state in (State.RUNNING, State.RESTARTING, State.PAUSED):
                await self._reconnect(c)
            elif c.state == State.REMOVING or (c.host_config.get("AutoRemove") and c.state != State.CREATED):
                await self._finish_remove(c, self.state_of(c))
        if self.network is not None:
            live = [c.id for c in self.containers.values() if c.state in (State.RUNNING, State.PAUSED)]
            await self.network.reconcile(live)
        for c in list(self.containers.values()):
            if c.state == State.RESTARTING or (c.state == State.EXITED and c.started_at and not self.state_of(
                    c).restart_called_off and restartpolicy.should_restart(
                        c.host_config, c.exit_code, c.manually_stopped, c.restart_count)):
                self.spawn(self._start_at_boot(c))

    async def _start_at_boot(self, c: Container) -> None:
        """As dockerd at its start: what the restart policy wants running (always, even after a user's stop;
        unless-stopped, unless a user stopped it; on-failure, after a failure) starts again."""
        rs = self.state_of(c)
        async with rs.lock:
            if c.state not in (State.EXITED, State.RESTARTING) or c.id not in self.containers:
                return
            rs.cancel_restart()
            try:
                await self._start_locked(c, rs)
            except errdefs.BerthError as exc:
                log.warning("could not start %s as its restart policy asks: %s", c.id[:12], exc)
                if c.state == State.RESTARTING:
                    c.state = State.EXITED
                    self.store.save(c)

    async def _reconnect(self, c: Container) -> None:
        rs = self.state_of(c)
        shim = await self.shims.connect(c.id)
        if shim is not None:
            try:
                st = await shim.state()
            except (OSError, errdefs.BerthError):
                st = {"status": "unknown"}
            rs.shim = shim
            if st.get("status") == "stopped" and st.get("exit_code") is not None:
                await self._on_exit(c, rs, int(st["exit_code"]), int(st.get("finished_at") or now_ns()))
            else:
                self.health.started(c, fresh=False)
                self.spawn(self._monitor(c, rs))
            return
        record = await self._shim_lost(c)
        await self._on_exit(c, rs, int(record.get("exit_code", 255)), int(record.get("finished_at") or now_ns()))

    async def _shim_lost(self, c: Container) -> dict[str, Any]:
        """The shim of a container is gone: the runtime kills what it left running and forgets the container;
        the exit record the shim wrote, if it got that far, else exit code 255."""
        await self.shims.force_delete(c.id)
        return self.shims.exit_record(c.id) or {"exit_code": 255, "finished_at": now_ns()}
