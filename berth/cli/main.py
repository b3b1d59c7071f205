"""`berth`: global flags, command dispatch (docker's names and groups), error texts and exit codes."""

from __future__ import annotations

import importlib
import sys

from berth.cli.pflag import Command, HelpRequested, StatusError, UsageError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.client import Client

__all__ = ["Cli", "main"]

# command name -> "module:function" under berth.cli.commands
COMMANDS = {
    "version": "system:version", "info": "system:info",
    "run": "run:run", "create": "run:create", "start": "run:start", "attach": "run:attach",
    "exec": "exec:exec_", "wait": "container:wait",
    "ps": "container:ps", "stop": "container:stop", "restart": "container:restart",
    "kill": "container:kill", "rm": "container:rm", "logs": "container:logs",
    "inspect": "container:inspect", "top": "container:top", "rename": "container:rename",
    "export": "container:export",
    "images": "image:images", "tag": "image:tag", "rmi": "image:rmi", "history": "image:history",
    "import": "image:import_", "pull": "registry_client:pull", "push": "registry_client:push",
    "login": "registry_client:login", "logout": "registry_client:logout",
    "pause": "extra:pause", "unpause": "extra:unpause", "update": "extra:update", "port": "extra:port",
    "diff": "extra:diff", "stats": "stats:stats", "cp": "copy:cp",
    "commit": "extra:commit", "save": "extra:save", "load": "extra:load", "events": "extra:events",
}
GROUPS = {
    "container": {"ls": "ps", "list": "ps", "ps": "ps", "prune": "container:prune",
                  "inspect": "container:inspect_container", "run": "run", "create": "create",
                  "start": "start", "attach": "attach", "exec": "exec", "wait": "wait", "stop": "stop",
                  "restart": "restart", "kill": "kill", "rm": "rm", "remove": "rm", "logs": "logs",
                  "top": "top", "rename": "rename", "export": "export", "pause": "pause",
                  "unpause": "unpause", "update": "update", "port": "port", "diff": "diff", "commit": "commit",
                  "stats": "stats", "cp": "cp"},
    "image": {"ls": "images", "list": "images", "rm": "rmi", "remove": "rmi", "tag": "tag",
              "history": "history", "import": "import", "pull": "pull", "push": "push",
              "inspect": "image:inspect_image", "prune": "image:prune", "save": "save", "load": "load"},
    "system": {"info": "info", "events": "events", "df": "system:df"},
    "registry": {"serve": "registry:serve", "gc": "registry:gc"},
    "volume": {"ls": "volume:ls", "list": "volume:ls", "create": "volume:create", "inspect": "volume:inspect",
               "rm": "volume:rm", "remove": "volume:rm", "prune": "volume:prune"},
    "network": {"ls": "network:ls", "list": "network:ls", "create": "network:create",
                "inspect": "network:inspect", "rm": "network:rm", "remove": "network:rm",
                "prune": "network:prune", "connect": "network:connect", "disconnect": "network:disconnect"},
}

GLOBAL = (Command("berth", "berth [OPTIONS] COMMAND", "A self-sufficient runtime for containers",
                  interspersed=False)
          .flag("-H, --host", "list", help="Daemon socket to connect to")
          .flag("-D, --debug", help="Enable debug mode")
          .flag("-l, --log-level", "value", "info", help="Set the logging level")
          .flag("--config", "value", help="Location of client config files")
          .flag("-c, --context", "value", help="Name of the context to use")
          .flag("-v, --version", help="Print version information and quit"))


class Cli:
    """What every command gets: the daemon host, a lazily made client, and the output streams."""

    def __init__(self, host: str | None) -> None:
        self.host = host
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            from berth.client import Client
            self._client = Client(self.host)
        return self._client

    @staticmethod
    def out(text: str) -> None:
        sys.stdout.write(text)

    @staticmethod
    def err(text: str) -> None:
        sys.stderr.write(text)

    @staticmethod
    def write_bytes(data: bytes) -> None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    @staticmethod
    def write_err_bytes(data: bytes) -> None:
        sys.stderr.flush()
        sys.stderr.buffer.write(data)
        sys.stderr.buffer.flush()


def _resolve(args: list[str]) -> tuple[str, str, list[str]]:
    """(display name, "module:function", remaining args) for argv after the global flags."""
    name, rest = args[0], args[1:]
    if name in GROUPS:
        if not rest or rest[0] in ("--help", "-h"):
            subs = ", ".join(sorted(GROUPS[name]))
            raise HelpRequested(f"\nUsage:  berth {name} COMMAND\n\nCommands: {subs}\n")
        sub = GROUPS[name].get(rest[0])
        if sub is None:
            raise UsageError(f"berth: unknown command: berth {name} {rest[0]}", name, status=1,
                             usage=f"berth {name}")
        target = sub if ":" in sub else COMMANDS[sub]
        return f"{name} {rest[0]}", target, rest[1:]
    if name not in COMMANDS:
        raise UsageError(f"berth: unknown command: berth {name}\n\nRun 'berth --help' for more information",
                         name, status=1)
    return name, COMMANDS[name], rest


def _dispatch(argv: list[str]) -> int:
    ns = GLOBAL.parse(argv)
    if ns.version:
        from berth import __version__
        sys.stdout.write(f"Berth version {__version__}\n")
        return 0
    if not ns.args:
        names = sorted([*COMMANDS, *GROUPS])
        sys.stdout.write(GLOBAL.help_text() + "\nCommands:\n" + "".join(f"  {n}\n" for n in names) +
                         "\nRun 'berth COMMAND --help' for more information on a command.\n")
        return 0
    _, target, rest = _resolve(ns.args)
    module, func = target.split(":")
    mod = importlib.import_module(f"berth.cli.commands.{module}")
    fn: Any = getattr(mod, func)
    cli = Cli(ns.host[-1] if ns.host else None)
    try:
        return int(fn(cli, rest) or 0)
    finally:
        if cli._client is not None:
            cli._client.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `berth` console script; returns (and exits with) docker's exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        code = _dispatch(args)
    except HelpRequested as h:
        sys.stdout.write(str(h))
        code = 0
    except UsageError as exc:
        sys.stderr.write(exc.text() if exc.usage else f"{exc}\n")
        code = exc.status
    except StatusError as exc:
        if exc.message:
            sys.stderr.write(exc.message + "\n")
        code = exc.status
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        import os  # the reader went away (`berth ps | head -1`): end quietly like docker
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except Exception as exc:
        code = _report(exc)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if argv is None:
        _leave(code)
    return code


def _leave(code: int) -> None:
    """Exit without the interpreter's teardown (it costs a command ~10 ms), unless a thread still works."""
    threading = sys.modules.get("threading")
    if threading is not None and any(t.is_alive() and not t.daemon and t is not threading.main_thread()
                                     for t in threading.enumerate()):
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        sys.exit(code)
    import os

    os._exit(code)


def _report(exc: Exception) -> int:
    from berth.cli.templates import TemplateError
    from berth.client import APIError, DaemonUnreachable
    if isinstance(exc, APIError | DaemonUnreachable):
        sys.stderr.write(f"{exc}\n")
        return 1
    if isinstance(exc, OSError) and exc.filename:
        sys.stderr.write(f"open {exc.filename}: {(exc.strerror or str(exc)).lower()}\n")
        return 1
    if isinstance(exc, TemplateError):
        sys.stderr.write(f"{exc.prefix}: template: {exc}\n")
        return 1
    raise exc


if __name__ == "__main__":
    main()
