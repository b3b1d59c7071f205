"""`python -m berth.shim`: parse the launch options, daemonize, create the container, serve (shim layer).

    berthd (launcher)       shim P0          P1 (setsid)      P2 = the shim
        | spawn ----------> | fork ---------> | fork --------> |
        |                   | waitpid <------ | exit           | subreaper, runtime create, listen
        | <---------------- | exit                             |
        | <---------------------------------- {"ok":true,"pid":N,"shim_pid":M}\\n, EOF

Forked by the zygote, the zygote's child is the shim's keeper and this process its worker (berth.shim.keeper),
both forked before the request comes: the worker only starts a session of its own (the zygote ignores SIGCHLD,
so the kernel reaps the keepers; if the zygote goes first, they pass to init). A worker the keeper forks again
for an idle container starts at `resume`.
"""

from __future__ import annotations

import os
import sys

from berth.util import minijson

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

    from berth.shim.keeper import KeeperLink
    from berth.shim.loop import Loop

__all__ = ["main", "parse_args"]

USAGE = (
    "usage: python -m berth.shim --id ID --bundle BUNDLE --dir SHIMDIR --runtime RUNTIME_ARGV_JSON "
    "--log-path JSONLOG|'' [--log-max-size BYTES --log-max-files N] [--stdin] [--tty] [--runtime-root DIR] "
    "[--idle-after SECONDS]"
)
_VALUED = {"--id": "id", "--bundle": "bundle", "--dir": "dir", "--runtime": "runtime",
           "--log-path": "log_path", "--runtime-root": "runtime_root", "--log-max-size": "log_max_size",
           "--log-max-files": "log_max_files", "--idle-after": "idle_after"}
_OPTIONAL = ("runtime_root", "log_max_size", "log_max_files", "idle_after")
_FLAGS = {"--stdin": "stdin", "--tty": "tty"}
SHRINK_DELAY = 0.5


def parse_args(argv: list[str]) -> dict[str, object]:
    """The launch options as a dict; ValueError with a message on bad usage (argparse is too heavy)."""
    opts: dict[str, object] = {"stdin": False, "tty": False, "runtime_root": None}
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in _FLAGS and not eq:
            opts[_FLAGS[name]] = True
        elif name in _VALUED:
            if not eq:
                value = next(args, None)  # type: ignore[assignment]
                if value is None:
                    raise ValueError(f"{name} needs a value")
            opts[_VALUED[name]] = value
        else:
            raise ValueError(f"unknown argument {arg!r}")
    missing = [flag for flag, key in _VALUED.items() if key not in opts and key not in _OPTIONAL]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    runtime = minijson.loads(str(opts["runtime"]))
    if not isinstance(runtime, list) or not runtime or not all(isinstance(a, str) for a in runtime):
        raise ValueError("--runtime must be a non-empty JSON list of strings")
    if opts["runtime_root"]:
        runtime += ["--root", str(opts["runtime_root"])]
    opts["runtime"] = runtime
    for key in ("bundle", "dir", "log_path"):
        if opts[key] or key != "log_path":  # no log path: the container's output is not logged (driver none)
            opts[key] = os.path.abspath(str(opts[key]))
    for key, default in (("log_max_size", -1), ("log_max_files", 1)):
        text = str(opts.get(key, default))
        if not text.lstrip("-").isdigit():
            raise ValueError(f"--{key.replace('_', '-')} must be a whole number")
        opts[key] = int(text)
    idle = str(opts.get("idle_after", "0"))
    try:
        opts["idle_after"] = float(idle)
    except ValueError:
        raise ValueError("--idle-after must be a number of seconds") from None
    return opts


def _report(fd: int, obj: dict[str, object]) -> None:
    data = minijson.dumps(obj).encode() + b"\n"
    try:
        os.write(fd, data)
    except OSError:
        pass
    os.close(fd)


def _daemonize(forked: bool) -> bool:
    """Detach from the launcher: True in the shim's own process, False in the launcher's once P1 is gone.

    Spawned: a double fork. `forked`: this process is a child the zygote made for the shim, and a session of
    its own is all it needs.
    """
    if forked:
        os.setsid()
        return True
    first = os.fork()
    if first:
        os.waitpid(first, 0)
        return False
    os.setsid()
    if os.fork():
        os._exit(0)
    return True


def _detach_stdio(log_file: str) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.chdir("/")


def main(argv: list[str], forked: bool = False, keeper: KeeperLink | None = None) -> int:
    """The shim's launch; `forked` when this process is a fork made for it (by the zygote), not its own;
    `keeper`: its parent is a keeper (berth.shim.keeper), already in a session of its own."""
    try:
        opts = parse_args(argv)
    except ValueError as exc:
        print(minijson.dumps({"ok": False, "error": f"{exc}; {USAGE}"}), flush=True)
        return 2
    os.makedirs(str(opts["dir"]), mode=0o711, exist_ok=True)
    report = os.dup(1)
    sys.stdout.flush()
    if keeper is None and not _daemonize(forked):
        os.close(report)
        return 0
    _detach_stdio(os.path.join(str(opts["dir"]), "shim.log"))
    os._exit(_serve(opts, report, keeper))


def _shrink() -> None:
    """Give the memory freed by start-up back to the system: an idle shim should stay small."""
    import gc

    from berth.kernel.libc import LIBC

    gc.collect()
    LIBC.malloc_trim(0)


def _serve(opts: dict[str, object], report: int, keeper: KeeperLink | None) -> int:
    from berth.shim.handover import watch_idle
    from berth.shim.loop import Loop
    from berth.shim.service import Config, Shim
    from berth.shim.sysutil import note

    loop = Loop()
    cfg = Config(str(opts["id"]), str(opts["bundle"]), str(opts["dir"]), list(opts["runtime"]),  # type: ignore[call-overload]
                 str(opts["log_path"]), bool(opts["stdin"]), bool(opts["tty"]),
                 int(opts["log_max_size"]), int(opts["log_max_files"]))  # type: ignore[call-overload]
    try:
        shim = Shim(cfg, loop)
        shim.keeper = keeper
        shim.idle_after = float(opts["idle_after"])  # type: ignore[arg-type]
        pid = shim.create()
    except Exception as exc:
        note(f"create failed: {exc!r} {getattr(exc, 'detail', '')}")
        _report(report, {"ok": False, "error": str(exc) or repr(exc)})
        return 1
    note(f"shim {os.getpid()} serving {cfg.id}, init pid {pid}")
    _report(report, {"ok": True, "pid": pid, "shim_pid": os.getppid() if keeper else os.getpid()})
    if keeper is not None and shim.idle_after > 0:
        watch_idle(shim, shim.idle_after)
    else:
        loop.call_later(SHRINK_DELAY, _shrink)  # after the daemon's start, which follows at once
    return _run(loop)


def _run(loop: Loop) -> int:
    from berth.shim.sysutil import note

    try:
        loop.run()
    except BaseException as exc:
        note(f"shim loop crashed: {exc!r}")
        raise
    note("shim exits")
    return 0


def resume(sock: _socket.socket, blob: bytes, fds: list[int], init_pid: int, init_status: int | None) -> int:
    """A worker forked by the keeper: take up the container an earlier worker handed over, and serve."""
    from berth.kernel.prctl import set_name
    from berth.shim.handover import resume as resume_shim
    from berth.shim.handover import watch_idle
    from berth.shim.keeper import KeeperLink
    from berth.shim.loop import Loop
    from berth.shim.sysutil import note

    set_name(b"berth-shim-w")
    state = minijson.loads(blob)
    assert isinstance(state, dict)
    cfg = state["cfg"]
    _detach_stdio(os.path.join(str(cfg[2]), "shim.log"))
    loop = Loop()
    try:
        shim = resume_shim(KeeperLink(sock), loop, state, fds, init_pid, init_status)
    except Exception as exc:
        note(f"resume failed: {exc!r}")
        return 1
    note(f"shim worker {os.getpid()} took over {shim.cfg.id}")
    if shim.idle_after > 0:
        watch_idle(shim, shim.idle_after)
    return _run(loop)
