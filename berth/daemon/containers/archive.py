"""`docker cp` (the archive endpoints): a container's files read and written by the chrooted helper
berth.store.archive, in the running container's own view of its mounts, or on its rootfs mounted for the while."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from berth import errdefs
from berth.daemon.containers.model import Container, State
from berth.daemon.containers.service import ContainersService
from berth.util.subprocs import output_of

__all__ = ["ArchiveService"]

class ArchiveService:
    """HEAD, GET and PUT /containers/{id}/archive."""

    def __init__(self, containers: ContainersService, env: dict[str, str], python: str = sys.executable) -> None:
        self.containers = containers
        self.env = env  # the helper's: this very package on its path
        self.python = python

    async def stat(self, ref: str, path: str) -> dict[str, Any]:
        c = self.containers.get(ref)
        async with self._root(c) as root:
            out, err, code = await self._run("stat", root, path)
        self._check(c, code, err)
        return dict(json.loads(out))

    async def get(self, ref: str, path: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        """The stat of `path`, and its tar (read while the body is sent)."""
        c = self.containers.get(ref)
        root_cm = self._root(c)
        root = await root_cm.__aenter__()
        try:
            proc = await self._spawn("get", root, path, stdin=False)
            assert proc.stdout is not None
            assert proc.stderr is not None
            line = await proc.stdout.readline()
            if not line:
                err = await proc.stderr.read()
                self._check(c, await proc.wait() or 1, err)
            doc = json.loads(line)
        except BaseException:
            await root_cm.__aexit__(None, None, None)
            raise
        self.containers.emit(c, "archive-path")

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in output_of(proc):
                    yield chunk
            finally:
                await root_cm.__aexit__(None, None, None)

        return doc, body()

    async def put(self, ref: str, path: str, source: AsyncIterator[bytes], no_overwrite_dir_non_dir: bool,
                  copy_uid_gid: bool, owner: Callable[[Container], Awaitable[tuple[int, int]]]) -> None:
        """Extract the tar `source` into the directory `path` of the container."""
        c = self.containers.get(ref)
        if c.host_config.get("ReadonlyRootfs"):
            raise errdefs.InvalidParameter("container rootfs is marked read-only")
        opts = ["--no-overwrite-dir-non-dir"] if no_overwrite_dir_non_dir else []
        if copy_uid_gid:
            uid, gid = await owner(c)
            opts.append(f"--owner={uid}:{gid}")
        async with self._root(c) as root:
            proc = await self._spawn("put", root, path, stdin=True, opts=opts)
            assert proc.stdin is not None
            assert proc.stderr is not None
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the helper stopped: it says why
                async for chunk in source:
                    proc.stdin.write(chunk)
                    await proc.stdin.drain()
                proc.stdin.close()
            err = await proc.stderr.read()
            code = await proc.wait()
        self._check(c, code, err)
        self.containers.emit(c, "extract-to-dir")

    async def _spawn(self, op: str, root: str, path: str, stdin: bool,
                     opts: list[str] | None = None) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            self.python, "-S", "-m", "berth.store.archive", op, root, path, *(opts or []),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env, close_fds=True)

    async def _run(self, op: str, root: str, path: str) -> tuple[bytes, bytes, int]:
        proc = await self._spawn(op, root, path, stdin=False)
        out, err = await proc.communicate()
        return out, err, proc.returncode or 0

    @staticmethod
    def _check(c: Container, code: int, err: bytes) -> None:
        if code == 0:
            return
        try:
            doc = json.loads(err.decode().strip().splitlines()[-1])
            message, kind = str(doc["error"]), str(doc.get("kind") or "invalid")
        except (ValueError, KeyError, IndexError, TypeError):
            raise errdefs.System(f"copy failed: {err.decode(errors='replace').strip()}") from None
        if kind == "not_found":
            raise errdefs.NotFound(f"{message} in container {c.id}")
        raise errdefs.InvalidParameter(message)

    @contextlib.asynccontextmanager
    async def _root(self, c: Container) -> AsyncIterator[str]:
        """The container's root as the helper enters it: a running one's own (its mounts included), else its
        rootfs, mounted for the while (the container cannot start meanwhile)."""
        if c.state in (State.RUNNING, State.PAUSED) and c.pid:
            yield f"/proc/{c.pid}/root"
            return
        rs = self.containers.state_of(c)
        async with rs.lock:
            if c.state in (State.RUNNING, State.PAUSED) and c.pid:  # it started while we waited
                yield f"/proc/{c.pid}/root"
                return
            if c.state == State.REMOVING:
                raise errdefs.Conflict(f"container {c.id} is being removed")
            await self.containers.mount_rootfs(c)
            try:
                yield c.rootfs
            finally:
                await asyncio.to_thread(self.containers.mounter.unmount, c.rootfs)
