"""`exec`: run a command in a running container, attached or detached (its own module: it needs no run flags)."""

from __future__ import annotations

from berth.cli.attached import attached_session, need_tty
from berth.cli.pflag import Command, StatusError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Cli

EXEC = (Command("exec", "berth exec [OPTIONS] CONTAINER COMMAND [ARG...]",
                "Execute a command in a running container", interspersed=False, min_args=2)
        .flag("-d, --detach", help="Detached mode: run command in the background")
        .flag("--detach-keys", "value", help="Override the key sequence for detaching a container")
        .flag("-e, --env", "list", help="Set environment variables")
        .flag("--env-file", "list", help="Read in a file of environment variables")
        .flag("-i, --interactive", help="Keep STDIN open even if not attached")
        .flag("--privileged", help="Give extended privileges to the command")
        .flag("-t, --tty", help="Allocate a pseudo-TTY")
        .flag("-u, --user", "value", help="Username or UID (format: <name|uid>[:<group|gid>])")
        .flag("-w, --workdir", "value", help="Working directory inside the container"))


def exec_(cli: Cli, argv: list[str]) -> int:
    from berth.cli.session import resize, terminal_size

    ns = EXEC.parse(argv)
    need_tty(ns.tty and not ns.detach, ns.interactive)
    name, cmd = ns.args[0], ns.args[1:]  # no inspect first: exec create says "No such container" itself
    console = terminal_size() if ns.tty else None
    body: dict[str, Any] = {
        "User": ns.user or "", "Privileged": ns.privileged, "Tty": ns.tty,
        "AttachStdin": ns.interactive and not ns.detach, "AttachStdout": not ns.detach,
        "AttachStderr": not ns.detach, "Detach": ns.detach, "DetachKeys": ns.detach_keys or "",
        "Env": _env_files(ns.env_file) + ns.env or None,
        "WorkingDir": ns.workdir or "", "Cmd": cmd}
    if console:
        body["ConsoleSize"] = list(console)
    eid = cli.client.post(f"/containers/{name}/exec", body)["Id"]
    start_body: dict[str, Any] = {"Detach": ns.detach, "Tty": ns.tty}
    if console:
        start_body["ConsoleSize"] = list(console)
    if ns.detach:
        cli.client.post(f"/exec/{eid}/start", start_body)
        return 0
    resp = cli.client.hijack(f"/exec/{eid}/start", body=start_body)
    if ns.tty:
        resize(cli.client, f"/exec/{eid}/resize")
    if attached_session(cli, name, resp, ns.tty, ns.interactive, False, ns.detach_keys, f"/exec/{eid}/resize"):
        return 0
    return int((cli.client.get(f"/exec/{eid}/json") or {}).get("ExitCode") or 0)


def _env_files(paths: list[str]) -> list[str]:
    if not paths:
        return []
    from berth.cli.runopts import OptionError, parse_env_file  # with the run flags: only for --env-file

    try:
        return [line for f in paths for line in parse_env_file(f)]
    except OptionError as exc:
        raise StatusError(1, str(exc)) from None
