"""Parent side (runtime layer): spawn a container's init through the sync ladder (exec: `execjoin`)."""

from __future__ import annotations

import os
import signal

from berth.kernel import abi
from berth.kernel.caps import last_cap
from berth.kernel.ns import setns, unshare
from berth.runtime import sync
from berth.runtime.cgroups import Cgroups
from berth.runtime.errors import RuntimeFailure
from berth.runtime.init import InitArgs, run_init

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from typing import Any

    from berth.seccomp.filter import Filter


__all__ = ["spawn_init"]


def namespace_plan(spec: dict[str, Any]) -> tuple[int, list[tuple[str, int]]]:
    """(flags to unshare, [(path, flag) to join]) from linux.namespaces."""
    flags = 0
    joins: list[tuple[str, int]] = []
    for ns in (spec.get("linux") or {}).get("namespaces") or []:
        kind = ns.get("type")
        if kind not in abi.NAMESPACES:
            raise RuntimeFailure(f"unknown namespace type {kind!r}")
        flag = abi.NAMESPACES[kind][0]
        if ns.get("path"):
            joins.append((ns["path"], flag))
        else:
            flags |= flag
    joins.sort(key=lambda j: j[1] == abi.CLONE_NEWUSER)  # the user namespace last, as for exec
    return flags, joins


def id_maps(spec: dict[str, Any]) -> tuple[str, str] | None:
    """uid_map and gid_map texts for a new user namespace, or None when the config makes none."""
    linux = spec.get("linux") or {}
    if not any(ns.get("type") == "user" and not ns.get("path") for ns in linux.get("namespaces") or []):
        return None
    texts = []
    for key in ("uidMappings", "gidMappings"):
        lines = [f"{int(m['containerID'])} {int(m['hostID'])} {int(m['size'])}\n" for m in linux.get(key) or []]
        if not lines:
            raise RuntimeFailure(f"a new user namespace needs linux.{key}")
        texts.append("".join(lines))
    return texts[0], texts[1]


def _write_id_maps(pid: int, maps: tuple[str, str]) -> None:
    for name, text in zip(("uid_map", "gid_map"), maps, strict=True):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(text)


def _become_root_in_userns(child: sync.Channel) -> None:
    """After unsharing a user namespace: have the parent write our id maps, then take uid/gid 0 in it."""
    child.send(map_me=True)
    child.wait_for("mapped")
    os.setresgid(0, 0, 0)
    os.setgroups([])
    os.setresuid(0, 0, 0)


def _join(joins: list[tuple[int, int]]) -> None:
    for fd, flag in joins:
        setns(fd, flag)
        os.close(fd)


def _intermediate(child: sync.Channel, plan: tuple[int, list[tuple[int, int]]], then: Any) -> None:
    """C1: wait for the parent (cgroups), enter namespaces, fork the real process, report its pid."""
    try:
        if child.recv() is None:
            os._exit(1)
        flags, joins = plan
        _join(joins)
        if flags:
            unshare(flags)
        if flags & abi.CLONE_NEWUSER:
            _become_root_in_userns(child)
        pid = os.fork()
        if pid == 0:
            then()
            os._exit(1)
        child.send(pid=pid)
        os._exit(0)
    except BaseException as e:
        try:
            child.send(error=str(e))
        finally:
            os._exit(1)


def _ladder(
    plan: tuple[int, list[tuple[int, int]]],
    then_factory: Any,
    late_cgroups: Cgroups | None = None,
    idle: Callable[[], object] | None = None,
    on_hooks: Callable[[int], object] | None = None,
    maps: tuple[str, str] | None = None,
) -> tuple[int, sync.Channel]:
    """Fork C1, release it, and collect the final pid (and readiness).

    With `late_cgroups` the final process is moved into the cgroups while it already builds its rootfs: the
    first cgroup v1 migration waits for an RCU grace period, so overlap it. `idle` makes
    those cgroups: once it returns the child hears `cgroups_made` (it may mount them), and `cgroups` once it
    is in them (it must not exec before)."""
    parent, child = sync.pair()
    c1 = os.fork()
    if c1 == 0:
        parent.close()
        _intermediate(child, plan, then_factory(child))
        os._exit(1)
    child.close()
    pid = 0
    failure: OSError | None = None
    try:
        parent.send(go=True)
        if idle is not None:
            idle()  # the runtime's own remaining work, done while the child builds the container
        if late_cgroups is not None:
            parent.send(cgroups_made=True)  # they exist now (idle made them): the child may mount them
        while True:
            msg = parent.recv()
            if msg is None:
                if failure is not None:
                    raise failure
                raise RuntimeFailure("container process exited before it was ready")
            if "error" in msg:
                raise RuntimeFailure(str(msg["error"]))
            if msg.get("map_me") and maps is not None:
                _write_id_maps(c1, maps)
                parent.send(mapped=True)
            if "pid" in msg:
                pid = int(str(msg["pid"]))
                if late_cgroups is not None:
                    try:
                        late_cgroups.add(pid)
                        parent.send(cgroups=True)
                    except OSError as e:
                        failure = e  # the process may have failed already: its message comes next
            if msg.get("hooks") and on_hooks is not None:
                on_hooks(pid)
                parent.send(hooks_done=True)
            if msg.get("ready"):
                break
    except BaseException:
        for p in (pid, c1):
            if p:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        raise
    finally:
        _reap(c1)
    return pid, parent


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def spawn_init(
    spec: dict[str, Any],
    rootfs: str,
    fifo: str,
    console: socket.socket | None,
    cgroups: Cgroups,
    idle: Callable[[], object] | None = None,
    preserve_fds: int = 0,
    hook_info: tuple[str, str] = ("", ""),
    on_hooks: Callable[[int], object] | None = None,
    seccomp: Filter | None = None,
) -> int:
    """Start the container's init; returns its host pid once it waits on the exec fifo."""
    flags, joins = namespace_plan(spec)
    cgroupns = bool(flags & abi.CLONE_NEWCGROUP)
    flags &= ~abi.CLONE_NEWCGROUP  # init unshares it itself, once it is in its cgroups
    if not flags & abi.CLONE_NEWNS:
        raise RuntimeFailure("a new mount namespace is required")
    fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
    fds = [(os.open(path, os.O_RDONLY | os.O_CLOEXEC), flag) for path, flag in joins]
    has_netns = bool(flags & abi.CLONE_NEWNET)
    args = InitArgs(
        spec, rootfs, fifo_fd, console, cgroups.dirs, last_cap(), has_netns, cgroupns, preserve_fds, hook_info,
        seccomp,
    )
    try:
        pid, chan = _ladder(
            (flags, fds),
            lambda ch: lambda: run_init(ch, args),
            late_cgroups=cgroups,
            idle=idle,
            on_hooks=on_hooks,
            maps=id_maps(spec),
        )
    finally:
        os.close(fifo_fd)
        for fd, _ in fds:
            os.close(fd)
    chan.close()
    return pid
