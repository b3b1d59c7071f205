"""runc-compatible command line (runtime layer): `berth-runtime [global opts] COMMAND [opts] ID [args]`."""

from __future__ import annotations

import os
import sys
import time

from berth.runtime import jsonc
from berth.runtime.errors import RuntimeFailure

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DEFAULT_ROOT", "main", "parse", "state_root"]

DEFAULT_ROOT = "/run/berth/runtime"

GLOBAL_OPTS: dict[str, str] = {
    "root": "value",
    "log": "value",
    "log-format": "value",
    "debug": "flag",
    "systemd-cgroup": "flag",
    "criu": "value",
    "rootless": "value",
}

_CREATE = {
    "bundle": "value",
    "b": "=bundle",
    "pid-file": "value",
    "console-socket": "value",
    "no-pivot": "flag",
    "no-new-keyring": "flag",
    "preserve-fds": "value",
}
COMMANDS: dict[str, dict[str, str]] = {
    "create": _CREATE,
    "run": {**_CREATE, "detach": "flag", "d": "=detach", "keep": "flag"},
    "start": {},
    "pause": {},
    "ps": {"format": "value", "f": "=format"},
    "update": {
        "resources": "value",
        "r": "=resources",
        "memory": "value",
        "m": "=memory",
        "memory-swap": "value",
        "memory-reservation": "value",
        "cpu-shares": "value",
        "cpu-quota": "value",
        "cpu-period": "value",
        "cpuset-cpus": "value",
        "cpuset-mems": "value",
        "pids-limit": "value",
    },
    "resume": {},
    "state": {},
    "kill": {"all": "flag", "a": "=all"},
    "delete": {"force": "flag", "f": "=force"},
    "list": {"format": "value", "f": "=format", "quiet": "flag", "q": "=quiet"},
    "exec": {
        "process": "value",
        "p": "=process",
        "tty": "flag",
        "t": "=tty",
        "console-socket": "value",
        "detach": "flag",
        "d": "=detach",
        "pid-file": "value",
        "cwd": "value",
        "env": "multi",
        "e": "=env",
        "user": "value",
        "u": "=user",
        "cap": "multi",
        "c": "=cap",
        "no-new-privs": "flag",
        "preserve-fds": "value",
        "process-label": "value",
        "apparmor": "value",
        "additional-gids": "multi",
        "g": "=additional-gids",
    },
}


def _parse_opts(argv: list[str], spec: dict[str, str], what: str) -> tuple[dict[str, Any], list[str]]:
    """Go-flag style options up to the first positional argument; returns (options, rest)."""
    opts: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return opts, argv[i + 1 :]
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.lstrip("-").partition("=")
        kind = spec.get(name)
        if kind and kind.startswith("="):
            name, kind = kind[1:], spec[kind[1:]]
        if kind is None:
            raise RuntimeFailure(f"flag provided but not defined: -{name} ({what})")
        if kind == "flag":
            opts[name] = value.lower() not in ("false", "0") if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise RuntimeFailure(f"flag needs an argument: -{name}")
                value = argv[i]
            if kind == "multi":
                opts.setdefault(name, []).append(value)
            else:
                opts[name] = value
        i += 1
    return opts, argv[i:]


def parse(argv: list[str]) -> tuple[dict[str, Any], str, dict[str, Any], list[str]]:
    """(global options, command, command options, positional args)."""
    gopts, rest = _parse_opts(argv, GLOBAL_OPTS, "global")
    if not rest:
        raise RuntimeFailure("usage: berth-runtime [--root DIR] COMMAND [OPTIONS] ID")
    cmd = rest[0]
    if cmd not in COMMANDS:
        raise RuntimeFailure(f"No help topic for '{cmd}'")
    copts, args = _parse_opts(rest[1:], COMMANDS[cmd], cmd)
    return gopts, cmd, copts, args


def state_root(global_args: list[str]) -> str:
    """Where the containers' state lives for a runtime launched with `global_args` (`--root`, or the default)."""
    gopts, _ = _parse_opts(global_args, GLOBAL_OPTS, "global")
    return _root(gopts)


def _root(gopts: dict[str, Any]) -> str:
    return os.path.abspath(gopts.get("root") or DEFAULT_ROOT)


def _log_error(path: str | None, fmt: str | None, msg: str) -> None:
    if not path:
        return
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = (
        jsonc.dumps({"level": "error", "msg": msg, "time": now})
        if fmt == "json"
        else f'time="{now}" level=error msg={jsonc.dumps(msg)}'
    )
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    """Run one runtime command; returns the process exit status."""
    argv = sys.argv[1:] if argv is None else argv
    gopts: dict[str, Any] = {}
    try:
        gopts, cmd, copts, args = parse(argv)
        if cmd == "exec":  # create and run start theirs once they have made the container's cgroups
            from berth.runtime.warmup import start_warmup

            copts["warmup-pid"] = start_warmup()
        from berth.runtime import commands

        return commands.dispatch(_root(gopts), cmd, copts, args)
    except (RuntimeFailure, OSError, ValueError, KeyError) as e:
        msg = str(e) if not isinstance(e, KeyError) else f"missing {e}"
        _log_error(gopts.get("log"), gopts.get("log-format"), msg)
        print(msg, file=sys.stderr, flush=True)
        return 1


def run_and_exit() -> None:
    """main() for a short-lived process: no garbage collector, no interpreter teardown."""
    import gc

    gc.disable()
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
