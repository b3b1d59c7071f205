"""The API's containers and exec backends: shapes replies and joins hijacked connections to shims."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from berth import errdefs
from berth.api.streams import stdcopy_frame
from berth.daemon.containers import filters as ps_filters
from berth.daemon.containers import logconfig, stats
from berth.daemon.containers import logs as logreader
from berth.daemon.containers.archive import ArchiveService
from berth.daemon.containers.attach import ClientReader, ClientWriter, pump
from berth.daemon.containers.detachkeys import DEFAULT_DETACH_KEYS, parse_detach_keys
from berth.daemon.containers.execs import ExecRecord, ExecService
from berth.daemon.containers.model import State, start_failure_code
from berth.daemon.containers.ports import ShimStream
from berth.daemon.containers.runstate import PendingAttach
from berth.daemon.containers.service import ContainersService
from berth.daemon.containers.top import top as run_top
from berth.util.subprocs import output_of
from berth.util.timefmt import parse_since

__all__ = ["AttachSession", "ContainersFacade"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AttachSession:
    """An attach between the route's checks and the hijack."""

    cid: str
    tty: bool
    stdin: bool
    stdout: bool
    stderr: bool
    stdin_once: bool
    detach_keys: bytes
    stream: ShimStream | None
    pending: PendingAttach | None


class ContainersFacade:
    """Implements berth.api.backends.ContainersBackend and ExecBackend over the services."""

    def __init__(self, containers: ContainersService, execs: ExecService, image_names: Any,
                 archives: ArchiveService) -> None:
        self.containers = containers
        self.execs = execs
        self.image_names = image_names
        self.archives = archives

    # -- plain calls ----------------------------------------------------------------------------
    async def create(self, body: dict[str, Any], name: str | None) -> tuple[str, list[str]]:
        return await self.containers.create(body, name)

    async def start(self, ref: str) -> None:
        await self.containers.start(ref)

    async def stop(self, ref: str, timeout: int | None, signal: str | None) -> None:
        await self.containers.stop(ref, timeout, signal)

    async def restart(self, ref: str, timeout: int | None, signal: str | None) -> None:
        await self.containers.restart(ref, timeout, signal)

    async def pause(self, ref: str) -> None:
        await self.containers.pause(ref)

    async def unpause(self, ref: str) -> None:
        await self.containers.unpause(ref)

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        return await self.containers.update(ref, body)

    # -- archive (cp) ---------------------------------------------------------------------------
    async def archive_stat(self, ref: str, path: str) -> dict[str, Any]:
        return await self.archives.stat(ref, path)

    async def archive_get(self, ref: str, path: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        return await self.archives.get(ref, path)

    async def archive_put(self, ref: str, path: str, source: AsyncIterator[bytes], no_overwrite_dir_non_dir: bool,
                          copy_uid_gid: bool) -> None:
        async def owner(c: Any) -> tuple[int, int]:
            from berth.daemon.containers import users

            u = await asyncio.to_thread(users.resolve, str(c.config.get("User") or ""),
                                        self.containers.images.layer_dirs(c.id, c.image_id),
                                        c.host_config.get("GroupAdd") or [])
            return u.uid, u.gid

        await self.archives.put(ref, path, source, no_overwrite_dir_non_dir, copy_uid_gid, owner)

    # -- stats ----------------------------------------------------------------------------------
    def stats(self, ref: str, stream: bool, one_shot: bool) -> AsyncIterator[bytes]:
        """StatsJSON lines: one a second while `stream` and the container runs; else one (from two samples a
        second apart, so that CPU use can be computed, unless `one_shot`)."""
        c = self.containers.get(ref)
        reader = stats.CgroupReader(f"/{self.containers.cgroup_parent}/{c.id}")

        def running() -> bool:
            return c.state in (State.RUNNING, State.PAUSED) and c.id in self.containers.containers

        def take(previous: dict[str, Any] | None) -> dict[str, Any]:
            return stats.sample(c.id, c.name, reader, c.pid, bool(c.sandbox_key), previous, time.time_ns)

        async def lines() -> AsyncIterator[bytes]:
            if not running():
                yield json.dumps(stats.empty_sample(c.id, c.name)).encode() + b"\n"
                return
            previous = None
            if not stream and not one_shot:
                previous = take(None)
                await asyncio.sleep(1)
            while running():
                doc = take(previous)
                yield json.dumps(doc).encode() + b"\n"
                if not stream:
                    return
                previous = doc
                await asyncio.sleep(1)

        return lines()

    async def kill(self, ref: str, signal: str | None) -> None:
        await self.containers.kill(ref, signal)

    async def wait_register(self, ref: str, condition: str) -> asyncio.Future[dict[str, Any]]:
        return await self.containers.wait_register(ref, condition)

    async def remove(self, ref: str, force: bool, volumes: bool) -> None:
        cid = self.containers.get(ref).id
        await self.containers.remove(ref, force, volumes)
        self.execs.forget_container(cid)

    def rename(self, ref: str, name: str) -> None:
        self.containers.rename(ref, name)

    def is_tty(self, ref: str) -> bool:
        return bool(self.containers.get(ref).config.get("Tty"))

    async def resize(self, ref: str, height: int, width: int) -> None:
        c = self.containers.get(ref)
        shim = self.containers.state_of(c).shim
        if c.state != State.RUNNING or shim is None:
            raise errdefs.Conflict(f"Container {c.id} is not running")
        if height and width:
            await shim.resize(height, width)

    # -- listing and inspecting -----------------------------------------------------------------
    def list_summaries(self, all_: bool, limit: int, filters: dict[str, list[str]], size: bool) -> list[Any]:
        chosen = ps_filters.select(self.containers.listing(), filters, all_=all_, limit=limit,
                                   image_matches=self.image_names)
        rows = []
        for c in chosen:
            row = c.to_summary()
            if size:
                row["SizeRw"], row["SizeRootFs"] = self.containers.images.container_sizes(c.id, c.image_id)
            rows.append(row)
        return rows

    def inspect(self, ref: str, size: bool) -> dict[str, Any]:
        c = self.containers.get(ref)
        body = c.to_inspect()
        if size:
            body["SizeRw"], body["SizeRootFs"] = self.containers.images.container_sizes(c.id, c.image_id)
        return body

    async def top(self, ref: str, ps_args: str) -> dict[str, object]:
        c = self.containers.get(ref)
        if c.state not in (State.RUNNING, State.PAUSED):
            raise errdefs.Conflict(f"Container {c.id} is not running")
        return await run_top(c.pid, ps_args)

    async def prune(self, filters: dict[str, list[str]]) -> tuple[list[str], int]:
        matcher = ps_filters.prune_matcher(filters)
        return await self.containers.prune(matcher)

    # -- logs -----------------------------------------------------------------------------------
    def logs(self, ref: str, *, stdout: bool, stderr: bool, follow: bool, tail: str, since: str, until: str,
             timestamps: bool) -> AsyncIterator[tuple[int, bytes]]:
        c = self.containers.get(ref)
        if logconfig.driver(c.host_config) == "none":
            raise errdefs.NotImplementedErr("configured logging driver does not support reading")
        try:
            since_s = parse_since(since) if since else 0.0
            until_s = parse_since(until) if until else 0.0
        except ValueError as exc:
            raise errdefs.InvalidParameter(str(exc)) from None
        # as dockerd: a tail that is not a whole number ("all", "", "abc") or is negative shows everything
        tail_n = int(tail) if re.fullmatch(r"[-+]?\d+", tail, re.ASCII) and int(tail) >= 0 else -1
        return logreader.read_logs(
            c.log_path, stdout=stdout, stderr=stderr, since=since_s, until=until_s, tail=tail_n,
            timestamps=timestamps, follow=follow,
            is_running=lambda: c.state == State.RUNNING and c.id in self.containers.containers,
        )

    # -- attach ---------------------------------------------------------------------------------
    async def attach_prepare(self, ref: str, opts: dict[str, bool], detach_keys: str | None) -> AttachSession:
        c = self.containers.get(ref)
        keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
        if c.state in (State.REMOVING, State.DEAD):
            raise errdefs.Conflict(f"container {c.id} is being removed")
        rs = self.containers.state_of(c)
        stdin = opts.get("stdin", False) and bool(c.config.get("OpenStdin"))
        session = AttachSession(
            cid=c.id, tty=bool(c.config.get("Tty")), stdin=stdin, stdout=opts.get("stdout", False),
            stderr=opts.get("stderr", False), stdin_once=bool(c.config.get("StdinOnce")), detach_keys=keys,
            stream=None, pending=None,
        )
        if c.state == State.RUNNING and rs.shim is not None:
            session.stream = await rs.shim.attach(session.stdin, session.stdout, session.stderr)
        else:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            session.pending = PendingAttach(session.stdin, session.stdout, session.stderr, fut)
            rs.pending_attach.append(session.pending)
        self.containers.emit(c, "attach")
        return session

    async def attach_run(self, session: AttachSession, reader: ClientReader, writer: ClientWriter) -> None:
        stream = session.stream
        if stream is None:
            assert session.pending is not None
            try:
                stream = await session.pending.connected
            except errdefs.BerthError:
                with contextlib.suppress(Exception):
                    writer.close()
                return
        await pump(reader, writer, stream, tty=session.tty, stdin=session.stdin, stdout=session.stdout,
                   stderr=session.stderr, stdin_once=session.stdin_once, detach_keys=session.detach_keys)

    # -- exec -----------------------------------------------------------------------------------
    def exec_create(self, ref: str, body: dict[str, Any]) -> str:
        return self.execs.create(ref, body)

    def exec_check(self, eid: str, tty: bool | None) -> bool:
        """Errors that deserve an HTTP status, found before the hijack; returns whether a TTY is used."""
        rec = self.execs.get(eid)
        self.execs.check_startable(rec)
        return bool(rec.config.get("Tty")) if tty is None else tty

    def exec_begin(self, eid: str, tty: bool) -> asyncio.Task[tuple[ExecRecord, ShimStream]]:
        """Start the exec's process now; `exec_run` takes its output (and any error) on the hijacked connection."""
        return asyncio.ensure_future(self.execs.start(eid, tty))

    async def exec_run(self, eid: str, tty: bool, console_size: Any, reader: ClientReader,
                       writer: ClientWriter, begun: asyncio.Task[tuple[ExecRecord, ShimStream]]) -> None:
        """Relays the exec `exec_begin` started on the hijacked connection; a failure is written into the
        stream (moby's way)."""
        try:
            rec, stream = await begun
        except (errdefs.BerthError, OSError) as exc:
            rec = self.execs.get(eid)
            message = f"OCI runtime exec failed: {exc}\r\n".encode()
            writer.write(message if tty else stdcopy_frame(2, message))
            with contextlib.suppress(Exception):
                await writer.drain()
                writer.close()
            self.execs.finished(rec, start_failure_code(str(exc)))
            return
        if tty and isinstance(console_size, list) and len(console_size) == 2 and all(console_size):
            with contextlib.suppress(errdefs.BerthError, OSError):
                await self.execs.resize(eid, int(console_size[0]), int(console_size[1]))
        cfg = rec.config
        code = await pump(reader, writer, stream, tty=tty, stdin=bool(cfg.get("AttachStdin")),
                          stdout=bool(cfg.get("AttachStdout", True)), stderr=bool(cfg.get("AttachStderr", True)),
                          stdin_once=True,
                          detach_keys=parse_detach_keys(cfg.get("DetachKeys") or DEFAULT_DETACH_KEYS))
        if code is None:
            code = await self._exec_code(rec)
        self.execs.finished(rec, code)

    async def exec_start_detached(self, eid: str, tty: bool | None) -> None:
        rec, stream = await self.execs.start(eid, tty)

        async def drain() -> None:
            code: int | None = None
            try:
                while (frame := await stream.read_frame()) is not None:
                    if frame[0] == 3:
                        import json

                        code = int(json.loads(frame[1] or b"{}").get("exit_code", 0))
                        break
            finally:
                await stream.close()
                self.execs.finished(rec, code if code is not None else await self._exec_code(rec))

        self.containers.spawn(drain())

    async def _exec_code(self, rec: ExecRecord) -> int | None:
        c = self.containers.containers.get(rec.container_id)
        shim = self.containers.state_of(c).shim if c else None
        if shim is None:
            return None
        with contextlib.suppress(Exception):
            st = await shim.exec_state(rec.id)
            code = st.get("exit_code")
            return int(code) if code is not None else None
        return None

    async def exec_resize(self, eid: str, height: int, width: int) -> None:
        await self.execs.resize(eid, height, width)

    def exec_inspect(self, eid: str) -> dict[str, Any]:
        return self.execs.get(eid).inspect()

    # -- filesystem -----------------------------------------------------------------------------
    async def export(self, ref: str) -> AsyncIterator[bytes]:
        c = self.containers.get(ref)
        mounted_here = False
        if c.state != State.RUNNING:
            await self.containers.mount_rootfs(c)
            mounted_here = True
        return self._tar(c.rootfs, mounted_here)

    async def _tar(self, rootfs: str, unmount: bool) -> AsyncIterator[bytes]:
        maps = await asyncio.to_thread(self._owner_maps, rootfs) if self.containers.idmap else []
        proc = await asyncio.create_subprocess_exec(
            "tar", "--numeric-owner", "--xattrs", "--xattrs-include=security.capability", *maps, "-C", rootfs,
            "-cf", "-", ".", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async for chunk in output_of(proc):
                yield chunk
        finally:
            if unmount:
                await asyncio.to_thread(self.containers.mounter.unmount, rootfs)

    def _owner_maps(self, rootfs: str) -> list[str]:
        """GNU tar --owner-map/--group-map files turning a remapped daemon's host ids back into the container's."""
        idmap = self.containers.idmap
        assert idmap is not None
        args = []
        for flag, ranges in (("--owner-map", idmap.uids), ("--group-map", idmap.gids)):
            path = os.path.join(os.path.dirname(rootfs), flag.strip("-") + ".txt")
            lines = (f"+{r.host + i} +{r.container + i}\n" for r in ranges for i in range(r.size))
            with open(path, "w") as f:
                f.writelines(lines)
            args.append(f"{flag}={path}")
        return args

    async def changes(self, ref: str) -> list[dict[str, Any]]:
        c = self.containers.get(ref)
        dirs = self.containers.images.layer_dirs(c.id, c.image_id)
        from berth.daemon.containers.changes import changes as diff

        return await asyncio.to_thread(diff, dirs[0], dirs[1:])
