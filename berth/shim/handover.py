"""An idle shim worker hands its container to the keeper, and a new worker picks it up (shim layer)."""

from __future__ import annotations

import _socket
import os
from collections.abc import Callable

from berth.kernel.prctl import set_child_subreaper
from berth.shim.clients import Client
from berth.shim.keeper import KeeperLink
from berth.shim.loop import Loop
from berth.shim.procs import Proc
from berth.shim.service import Config, Shim
from berth.shim.stdio import ProcIO
from berth.shim.sysutil import note
from berth.util import minijson

__all__ = ["hand_over", "resume", "watch_idle"]


def watch_idle(shim: Shim, after: float) -> None:
    """Every `after` seconds: when nothing happened since the last look and nothing is under way, hand the
    container over to the keeper and exit (berth.shim.keeper)."""
    loop = shim.loop
    seen = -1

    def look() -> None:
        nonlocal seen
        if loop.dispatched == seen and _idle(shim):
            hand_over(shim)  # returns only when the keeper could not take it
        seen = loop.dispatched
        loop.call_later(after, look)

    seen = loop.dispatched
    loop.call_later(after, look)


def _idle(shim: Shim) -> bool:
    init = shim.init
    return (shim.keeper is not None and init is not None and bool(shim.started_at) and init.quiet
            and shim._listener is not None and not shim.starter.holds_ready and not shim.teardown.pid
            and all(proc.done for proc in shim.execs.values())
            and all(c in shim.waiters and c.quiet for c in shim.clients))


def hand_over(shim: Shim) -> None:
    """Give every fd the container needs to the keeper, with the state to pick it up again, then exit."""
    assert shim.init is not None
    assert shim.keeper is not None
    assert shim._listener is not None
    io = shim.init.io
    wake = [shim._listener.fileno(), *(fd for fd, _ in io.outputs), *(c.fd for c in shim.waiters)]
    hold = [fd for fd in dict.fromkeys((io.stdin_fd, io.master)) if fd >= 0 and fd not in wake]
    order = {fd: i for i, fd in enumerate([*wake, *hold])}
    cfg = shim.cfg
    state = {
        "cfg": [cfg.id, cfg.bundle, cfg.dir, cfg.runtime, cfg.log_path, cfg.stdin, cfg.tty, cfg.log_max_size,
                cfg.log_max_files],
        "started_at": shim.started_at,
        "listener": 0,
        "init": {"pid": shim.init.pid, "tty": io.tty, "outputs": [[order[fd], kind] for fd, kind in io.outputs],
                 "stdin": order.get(io.stdin_fd, -1), "master": order.get(io.master, -1)},
        "waiters": [order[c.fd] for c in shim.waiters],
        "execs": {eid: [p.pid, p.exit_code, p.finished_at] for eid, p in shim.execs.items()},
        "idle_after": shim.idle_after,
    }
    shim.starter.drop_spare()
    if shim.keeper.hand_over(shim.init.pid, wake, hold, minijson.dumps(state).encode()):
        note(f"shim worker {os.getpid()} idle: handed over to its keeper")
        os._exit(0)
    note("hand-over to the keeper failed: serving on")


def resume(keeper: KeeperLink, loop: Loop, state: dict[str, object], fds: list[int], init_pid: int,
           init_status: int | None) -> Shim:
    """The Shim an earlier worker handed over (`hand_over`), with `fds` at the positions it gave them."""
    c = state["cfg"]
    assert isinstance(c, list)
    set_child_subreaper(True)  # the processes a spare spawns for execs come to us (berth.runtime.execspare)
    shim = Shim(Config(*c), loop)
    shim.keeper = keeper
    shim.idle_after = float(state.get("idle_after") or 0)  # type: ignore[arg-type]
    shim.started_at = int(state["started_at"])  # type: ignore[call-overload]
    init = state["init"]
    assert isinstance(init, dict)

    def fd(index: object) -> int:
        return fds[index] if isinstance(index, int) and index >= 0 else -1

    io = ProcIO.adopt(bool(init["tty"]), [(fd(i), int(kind)) for i, kind in init["outputs"]],
                      fd(init["stdin"]), fd(init["master"]))
    shim.init = Proc(loop, int(init["pid"]), io, shim.log, shim._init_done)
    for eid, (pid, code, finished_at) in dict(state["execs"]).items():  # type: ignore[call-overload]
        shim.execs[eid] = Proc.finished(loop, pid, code, finished_at)
    listener = _socket.socket(fileno=fd(state["listener"]))
    listener.setblocking(False)
    shim._listener = listener
    loop.set_reader(listener.fileno(), shim._accept)
    for index in state["waiters"]:  # type: ignore[attr-defined]
        client = Client(loop, _socket.socket(fileno=fd(index)), shim.handle)
        client.request_taken()
        shim.clients.add(client)
        shim.waiters.append(client)
        client.on_close(_forget_client(shim, client))
    if init_status is not None:
        shim.init.exited(init_status)
    else:
        shim._watch_init(shim.init.pid)
    return shim


def _forget_client(shim: Shim, client: Client) -> Callable[[], None]:
    def forget() -> None:
        shim.clients.discard(client)
        if client in shim.waiters:
            shim.waiters.remove(client)
    return forget
