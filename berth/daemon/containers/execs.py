"""Exec instances: create, start (through the container's shim), resize, inspect."""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from berth import errdefs
from berth.daemon.containers import users
from berth.daemon.containers.model import Container, State
from berth.daemon.containers.ports import ShimHandle, ShimStream
from berth.daemon.containers.service import ContainersService
from berth.daemon.containers.spec import build_env
from berth.util.ids import generate_id

__all__ = ["ExecRecord", "ExecService"]

log = logging.getLogger(__name__)

KEEP_EXITED = 64  # exited execs of a container that can still be inspected; older ones are forgotten


@dataclass(slots=True)
class ExecRecord:
    """One `docker exec` instance."""

    id: str
    container_id: str
    config: dict[str, Any]
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def inspect(self) -> dict[str, Any]:
        cmd = self.config.get("Cmd") or []
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {
                "tty": bool(self.config.get("Tty")),
                "entrypoint": cmd[0] if cmd else "",
                "arguments": cmd[1:],
                "privileged": bool(self.config.get("Privileged")),
                "user": self.config.get("User") or "",
            },
            "OpenStdin": bool(self.config.get("AttachStdin")),
            "OpenStderr": bool(self.config.get("AttachStderr")),
            "OpenStdout": bool(self.config.get("AttachStdout")),
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": self.config.get("DetachKeys") or "",
            "Pid": self.pid,
        }


class ExecService:
    """Keeps exec records in memory (as dockerd does) and starts them through the container's shim."""

    def __init__(self, containers: ContainersService) -> None:
        self.containers = containers
        self.execs: dict[str, ExecRecord] = {}
        self._bases: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self._exited: dict[str, deque[str]] = {}

    def get(self, eid: str) -> ExecRecord:
        rec = self.execs.get(eid)
        if rec is None:
            raise errdefs.NotFound(f"No such exec instance: {eid}")
        return rec

    def create(self, ref: str, body: dict[str, Any]) -> str:
        c = self.containers.get(ref)
        if c.state == State.PAUSED:
            raise errdefs.Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.state != State.RUNNING:
            raise errdefs.Conflict(f"Container {c.id} is not running")
        cmd = body.get("Cmd")
        if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) for a in cmd):
            raise errdefs.InvalidParameter("No exec command specified")
        workdir = body.get("WorkingDir") or ""
        if workdir and not str(workdir).startswith("/"):  # the runtime would refuse it at the start
            raise errdefs.InvalidParameter(
                f"the working directory '{workdir}' is invalid, it needs to be an absolute path")
        self.containers.prime_migration()
        eid = generate_id()
        rec = ExecRecord(eid, c.id, dict(body))
        self.execs[eid] = rec
        c.exec_ids.append(eid)
        self.containers.emit(c, "exec_create", execID=eid)
        self._prepare(rec)
        return eid

    def _prepare(self, rec: ExecRecord) -> None:
        """Have the shim make the process ready while the client comes back to start it (a start usually follows
        within milliseconds); the start uses it when it asks for the same process, and starts one otherwise."""
        shim = self.containers.state_of(self.containers.get(rec.container_id)).shim
        if shim is None:
            return
        try:
            process = self._process(rec, bool(rec.config.get("Tty")))
        except (errdefs.BerthError, OSError, ValueError, KeyError, TypeError):
            return  # the start will say what is wrong
        stdin = bool(rec.config.get("AttachStdin"))

        async def prepare() -> None:
            try:
                await shim.exec_prepare(rec.id, process, stdin)
            except Exception as exc:  # the start does without it
                log.debug("exec %s: not prepared: %s", rec.id, exc)

        self.containers.spawn(prepare())

    def _base_process(self, c: Container) -> dict[str, Any]:
        """The container's OCI process from its config.json, parsed again only when the file has changed."""
        path = os.path.join(c.root, "bundle", "config.json")
        st = os.stat(path)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._bases.get(c.id)
        if cached is None or cached[0] != key:
            with open(path, "rb") as f:
                cached = key, json.load(f)["process"]
            self._bases[c.id] = cached
        return cached[1]

    def _process(self, rec: ExecRecord, tty: bool) -> dict[str, Any]:
        c = self.containers.get(rec.container_id)
        base = self._base_process(c)
        cfg = rec.config
        proc = dict(base)
        # as dockerd: the container's environment with the exec's TERM, and HOME (when the container's Env
        # does not set it) of the user the exec runs as
        home = next((e[5:] for e in base.get("env") or [] if e.startswith("HOME=")), "/")
        if cfg.get("User"):
            u = users.resolve(cfg["User"], self.containers.images.layer_dirs(c.id, c.image_id),
                              c.host_config.get("GroupAdd") or [])
            proc["user"] = {"uid": u.uid, "gid": u.gid, "additionalGids": list(u.additional_gids)}
            home = u.home
        env = build_env({**c.config, "Tty": tty}, home)
        for item in cfg.get("Env") or []:
            key = item.split("=", 1)[0]
            env = [e for e in env if e.split("=", 1)[0] != key] + [item]
        proc["args"] = list(cfg["Cmd"])
        proc["env"] = env
        proc["terminal"] = tty
        proc.pop("consoleSize", None)
        if cfg.get("WorkingDir"):
            proc["cwd"] = cfg["WorkingDir"]
        if cfg.get("Privileged"):
            from berth.daemon.containers.spec import all_capabilities

            caps = all_capabilities()
            proc["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
        return proc

    def check_startable(self, rec: ExecRecord) -> ShimHandle:
        if rec.started:
            raise errdefs.Conflict(f"Error: Exec command {rec.id} has already run")
        c = self.containers.get(rec.container_id)
        shim = self.containers.state_of(c).shim
        if c.state == State.PAUSED:
            raise errdefs.Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.state != State.RUNNING or shim is None:
            raise errdefs.Conflict(f"Container {c.id} is not running")
        return shim

    async def start(self, eid: str, tty: bool | None) -> tuple[ExecRecord, ShimStream]:
        rec = self.get(eid)
        shim = self.check_startable(rec)
        self.containers.prime_migration()
        c = self.containers.get(rec.container_id)
        use_tty = bool(rec.config.get("Tty")) if tty is None else tty
        rec.started = True
        pid, stream = await shim.exec(eid, self._process(rec, use_tty), bool(rec.config.get("AttachStdin")))
        rec.pid, rec.running = pid, True
        self.containers.emit(c, "exec_start", execID=eid)
        return rec, stream

    def finished(self, rec: ExecRecord, code: int | None) -> None:
        """The exec has exited: it leaves the container's ExecIDs (as in dockerd) but can still be inspected,
        until KEEP_EXITED later execs of the same container have exited."""
        rec.running = False
        rec.exit_code = code if code is not None else 126
        try:
            c = self.containers.get(rec.container_id)
        except errdefs.NotFound:
            return
        if rec.id in c.exec_ids:
            c.exec_ids.remove(rec.id)
        exited = self._exited.setdefault(c.id, deque())
        exited.append(rec.id)
        while len(exited) > KEEP_EXITED:
            self.execs.pop(exited.popleft(), None)
        self.containers.emit(c, "exec_die", execID=rec.id, exitCode=str(rec.exit_code))

    async def resize(self, eid: str, height: int, width: int) -> None:
        rec = self.get(eid)
        c = self.containers.get(rec.container_id)
        shim = self.containers.state_of(c).shim
        if shim is None or not rec.running:
            raise errdefs.Conflict(f"Exec {eid} is not running")
        await shim.resize(height, width, exec_id=eid)

    def forget_container(self, cid: str) -> None:
        self._bases.pop(cid, None)
        self._exited.pop(cid, None)
        for eid in [e for e, r in self.execs.items() if r.container_id == cid]:
            del self.execs[eid]
