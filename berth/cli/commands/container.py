"""Container commands that need no attached session (ps, stop, rm, logs, inspect, top, prune ...)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from berth.cli.formatter import PS_TABLE, ContainerRow, render, tabwrite
from berth.cli.pflag import Command, StatusError
from berth.cli.templates import Template, TemplateError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Cli

FORMAT_HELP = "Format output using a custom template"
PS = (Command("ps", "berth ps [OPTIONS]", "List containers", max_args=0)
      .flag("-a, --all", help="Show all containers (default shows just running)")
      .flag("-f, --filter", "list", help="Filter output based on conditions provided")
      .flag("--format", "value", "", help=FORMAT_HELP)
      .flag("-n, --last", "int", -1, help="Show n last created containers (includes all states)")
      .flag("-l, --latest", help="Show the latest created container (includes all states)")
      .flag("--no-trunc", help="Don't truncate output")
      .flag("-q, --quiet", help="Only display container IDs")
      .flag("-s, --size", help="Display total file sizes"))


def filters_json(items: list[str], cmd: Command | None = None) -> str | None:
    """--filter k=v ... -> the API's map form {"k":{"v":true}}."""
    if not items:
        return None
    out: dict[str, dict[str, bool]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            msg = (f'invalid argument "{item}" for "-f, --filter" flag: '
                   "bad format of filter (expected name=value)")
            raise cmd.flag_error(msg) if cmd else StatusError(125, msg)
        out.setdefault(key.strip().lower(), {})[value] = True
    return json.dumps(out, separators=(",", ":"))


def ps(cli: Cli, argv: list[str]) -> int:
    ns = PS.parse(argv)
    limit = 1 if ns.latest else ns.last
    query: dict[str, Any] = {"all": ns.all or limit > 0 or None, "limit": limit if limit > 0 else None,
                             "size": ns.size or None, "filters": filters_json(ns.filter, PS)}
    containers = cli.client.get("/containers/json", **query)
    fmt = ns.format
    if ns.quiet:
        fmt = "{{.ID}}"
    elif not fmt and ns.size:
        fmt = PS_TABLE + "\t{{.Size}}"
    rows = [ContainerRow(c, trunc=not ns.no_trunc) for c in containers]
    try:
        cli.out(render(fmt, rows, ContainerRow.HEADERS, PS_TABLE))
    except TemplateError as exc:
        exc.prefix = "failed to execute template" if exc.executing else "failed to parse template"
        raise
    return 0


def show_inspected(cli: Cli, found: list[Any], fmt: str) -> None:
    """docker inspect's output: a JSON array (4-space indent), or the template run on each object."""
    if fmt:
        tmpl = Template(fmt.replace("\\t", "\t").replace("\\n", "\n"), strict=True)
        cli.out("".join(tmpl.execute(obj) + "\n" for obj in found))
    else:
        cli.out(json.dumps(found, indent=4, ensure_ascii=False) + "\n")


def inspect_each(cli: Cli, paths: list[str], fmt: str) -> int:
    """`network|volume inspect`: GET each path; a JSON array, or the template per object; errors to stderr."""
    from berth.client import APIError
    found: list[Any] = []
    failed = False
    for path in paths:
        try:
            found.append(cli.client.get(path))
        except APIError as exc:
            cli.err(f"{exc}\n")
            failed = True
    show_inspected(cli, found, fmt)
    return 1 if failed else 0


def for_each(cli: Cli, names: list[str], action: Callable[[str], object], echo: bool = True) -> int:
    """docker's multi-container loop: print each name done, errors to stderr, exit 1 if any failed."""
    from berth.client import APIError
    failed = False
    for name in names:
        try:
            action(name)
        except APIError as exc:
            cli.err(f"{exc}\n")
            failed = True
            continue
        if echo:
            cli.out(name + "\n")
    return 1 if failed else 0


STOP = (Command("stop", "berth stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running "
                "containers", min_args=1)
        .flag("-s, --signal", "value", help="Signal to send to the container")
        .flag("-t, --time", "int", help="Seconds to wait before killing the container"))
RESTART = (Command("restart", "berth restart [OPTIONS] CONTAINER [CONTAINER...]",
                   "Restart one or more containers", min_args=1)
           .flag("-s, --signal", "value", help="Signal to send to the container")
           .flag("-t, --time", "int", help="Seconds to wait before killing the container"))
KILL = (Command("kill", "berth kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running "
                "containers", min_args=1)
        .flag("-s, --signal", "value", help="Signal to send to the container"))
RM = (Command("rm", "berth rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
              min_args=1)
      .flag("-f, --force", help="Force the removal of a running container (uses SIGKILL)")
      .flag("-l, --link", help="Remove the specified link")
      .flag("-v, --volumes", help="Remove anonymous volumes associated with the container"))


def stop(cli: Cli, argv: list[str]) -> int:
    ns = STOP.parse(argv)
    return for_each(cli, ns.args, lambda n: cli.client.post(
        f"/containers/{n}/stop", t=ns.time, signal=ns.signal))


def restart(cli: Cli, argv: list[str]) -> int:
    ns = RESTART.parse(argv)
    return for_each(cli, ns.args, lambda n: cli.client.post(
        f"/containers/{n}/restart", t=ns.time, signal=ns.signal))


def kill(cli: Cli, argv: list[str]) -> int:
    ns = KILL.parse(argv)
    return for_each(cli, ns.args, lambda n: cli.client.post(f"/containers/{n}/kill", signal=ns.signal))


def rm(cli: Cli, argv: list[str]) -> int:
    ns = RM.parse(argv)
    return for_each(cli, ns.args, lambda n: cli.client.delete(
        f"/containers/{n}", force=ns.force or None, v=ns.volumes or None, link=ns.link or None))


WAIT = Command("wait", "berth wait CONTAINER [CONTAINER...]",
               "Block until one or more containers stop, then print their exit codes", min_args=1)


def wait(cli: Cli, argv: list[str]) -> int:
    ns = WAIT.parse(argv)
    return for_each(cli, ns.args, lambda n: cli.out(
        f"{(cli.client.post(f'/containers/{n}/wait') or {}).get('StatusCode', 0)}\n"), echo=False)


LOGS = (Command("logs", "berth logs [OPTIONS] CONTAINER", "Fetch the logs of a container",
                min_args=1, max_args=1)
        .flag("--details", help="Show extra details provided to logs")
        .flag("-f, --follow", help="Follow log output")
        .flag("--since", "value", help="Show logs since timestamp or relative (e.g. 42m)")
        .flag("-n, --tail", "value", "all", help="Number of lines to show from the end of the logs")
        .flag("-t, --timestamps", help="Show timestamps")
        .flag("--until", "value", help="Show logs before a timestamp or relative (e.g. 42m)"))


def timestamp_param(value: str | None, flag: str = "") -> str | None:
    """A --since/--until value as the unix seconds the API takes (docker's client converts it too); a bad one
    ends the command with docker's text (`logs` names the flag, `events` does not)."""
    if not value:
        return None
    from berth.util.timefmt import parse_since
    try:
        return f"{parse_since(value):.9f}"
    except ValueError as exc:
        raise StatusError(1, f'invalid value for "{flag}": {exc}' if flag else str(exc)) from None


def logs(cli: Cli, argv: list[str]) -> int:
    ns = LOGS.parse(argv)
    name = ns.args[0]
    info = cli.client.get(f"/containers/{name}/json")
    query = {"stdout": 1, "stderr": 1, "since": timestamp_param(ns.since, "since"),
             "until": timestamp_param(ns.until, "until"),
             "timestamps": ns.timestamps or None, "follow": ns.follow or None, "tail": ns.tail,
             "details": ns.details or None}
    resp = cli.client.stream("GET", f"/containers/{name}/logs", query)
    try:
        chunks = resp.iter_raw()
        if (info.get("Config") or {}).get("Tty"):
            for data in chunks:
                cli.write_bytes(data)
        else:
            from berth.client.stdcopy import demux
            demux(chunks, cli.write_bytes, cli.write_err_bytes)
    finally:
        resp.close()
    return 0


INSPECT = (Command("inspect", "berth inspect [OPTIONS] NAME|ID [NAME|ID...]",
                   "Return low-level information on Berth objects", min_args=1)
           .flag("-f, --format", "value", "", help=FORMAT_HELP)
           .flag("-s, --size", help="Display total file sizes if the type is container")
           .flag("--type", "value", "", help="Return JSON for specified type"))


def _lookup(cli: Cli, name: str, kinds: list[str], size: bool) -> Any:
    from berth.client import APIError
    for kind in kinds:
        path = f"/containers/{name}/json" if kind == "container" else f"/images/{name}/json"
        try:
            return cli.client.get(path, size=1 if size and kind == "container" else None)
        except APIError as exc:
            if exc.status != 404 or len(kinds) == 1:
                raise
    raise LookupError(name)


def print_inspect(cli: Cli, names: list[str], kinds: list[str], fmt: str, size: bool = False) -> int:
    """docker inspect: a JSON array (4-space indent) or the template run on each object."""
    from berth.client import APIError
    found: list[Any] = []
    failed = False
    for name in names:
        try:
            found.append(_lookup(cli, name, kinds, size))
        except LookupError:
            cli.err(f"Error: No such object: {name}\n")
            failed = True
        except APIError as exc:
            cli.err(f"{exc}\n")
            failed = True
    show_inspected(cli, found, fmt)
    return 1 if failed else 0


def inspect(cli: Cli, argv: list[str]) -> int:
    ns = INSPECT.parse(argv)
    kinds = [ns.type] if ns.type else ["container", "image"]
    if ns.type and ns.type not in ("container", "image"):
        raise StatusError(1, f'"{ns.type}" is not a valid value for --type')
    return print_inspect(cli, ns.args, kinds, ns.format, ns.size)


def inspect_container(cli: Cli, argv: list[str]) -> int:
    ns = INSPECT.parse(argv)
    return print_inspect(cli, ns.args, ["container"], ns.format, ns.size)


TOP = Command("top", "berth top CONTAINER [ps OPTIONS]", "Display the running processes of a container",
              min_args=1, interspersed=False)


def top(cli: Cli, argv: list[str]) -> int:
    ns = TOP.parse(argv)
    ps_args = " ".join(ns.args[1:]) or None
    data = cli.client.get(f"/containers/{ns.args[0]}/top", ps_args=ps_args)
    lines = ["\t".join(data.get("Titles") or [])]
    lines += ["\t".join(p) for p in data.get("Processes") or []]
    cli.out(tabwrite("\n".join(lines) + "\n", minwidth=20))
    return 0


RENAME = Command("rename", "berth rename CONTAINER NEW_NAME", "Rename a container", min_args=2,
                 max_args=2)


def rename(cli: Cli, argv: list[str]) -> int:
    ns = RENAME.parse(argv)
    old, new = ns.args
    if not new.strip():
        raise StatusError(1, "Error: Neither old nor new names may be empty")
    cli.client.post(f"/containers/{old}/rename", name=new)
    return 0


EXPORT = (Command("export", "berth export [OPTIONS] CONTAINER",
                  "Export a container's filesystem as a tar archive", min_args=1, max_args=1)
          .flag("-o, --output", "value", help="Write to a file, instead of STDOUT"))


def export(cli: Cli, argv: list[str]) -> int:
    ns = EXPORT.parse(argv)
    if not ns.output and sys.stdout.isatty():
        raise StatusError(1, "Error: cowardly refusing to save to a terminal. Use the -o flag or redirect")
    resp = cli.client.stream("GET", f"/containers/{ns.args[0]}/export")
    try:
        if ns.output:
            with open(ns.output, "wb") as f:
                for data in resp.iter_raw():
                    f.write(data)
        else:
            for data in resp.iter_raw():
                cli.write_bytes(data)
    finally:
        resp.close()
    return 0


PRUNE = (Command("container prune", "berth container prune [OPTIONS]", "Remove all stopped containers",
                 max_args=0)
         .flag("--filter", "list", help='Provide filter values (e.g. "until=<timestamp>")')
         .flag("-f, --force", help="Do not prompt for confirmation"))


def confirm(cli: Cli, warning: str) -> bool:
    cli.out(f"{warning}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def prune(cli: Cli, argv: list[str]) -> int:
    ns = PRUNE.parse(argv)
    if not ns.force and not confirm(cli, "WARNING! This will remove all stopped containers."):
        return 0
    from berth.cli.units import human_size
    report = cli.client.post("/containers/prune", filters=filters_json(ns.filter)) or {}
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        cli.out("Deleted Containers:\n" + "".join(f"{d}\n" for d in deleted) + "\n")
    cli.out(f"Total reclaimed space: {human_size(report.get('SpaceReclaimed', 0) or 0)}\n")
    return 0
