"""Further docker commands: pause, unpause, update, port, diff, commit, save, load, events."""

from __future__ import annotations

import sys

from berth.cli.commands.container import FORMAT_HELP, filters_json, for_each
from berth.cli.pflag import Command, StatusError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Cli

PAUSE = Command("pause", "berth pause CONTAINER [CONTAINER...]",
                "Pause all processes within one or more containers", min_args=1)
UNPAUSE = Command("unpause", "berth unpause CONTAINER [CONTAINER...]",
                  "Unpause all processes within one or more containers", min_args=1)


def pause(cli: Cli, argv: list[str]) -> int:
    ns = PAUSE.parse(argv)
    return for_each(cli, ns.args, lambda n: cli.client.post(f"/containers/{n}/pause"))


def unpause(cli: Cli, argv: list[str]) -> int:
    ns = UNPAUSE.parse(argv)
    return for_each(cli, ns.args, lambda n: cli.client.post(f"/containers/{n}/unpause"))


UPDATE = (Command("update", "berth update [OPTIONS] CONTAINER [CONTAINER...]",
                  "Update configuration of one or more containers", min_args=1)
          .flag("--blkio-weight", "int", help="Block IO (relative weight), between 10 and 1000, or 0 to disable")
          .flag("--cpu-period", "int", help="Limit CPU CFS (Completely Fair Scheduler) period")
          .flag("--cpu-quota", "int", help="Limit CPU CFS (Completely Fair Scheduler) quota")
          .flag("--cpu-rt-period", "int", help="Limit the CPU real-time period in microseconds")
          .flag("--cpu-rt-runtime", "int", help="Limit the CPU real-time runtime in microseconds")
          .flag("-c, --cpu-shares", "int", help="CPU shares (relative weight)")
          .flag("--cpus", "value", help="Number of CPUs")
          .flag("--cpuset-cpus", "value", help="CPUs in which to allow execution (0-3, 0,1)")
          .flag("--cpuset-mems", "value", help="MEMs in which to allow execution (0-3, 0,1)")
          .flag("-m, --memory", "value", help="Memory limit")
          .flag("--memory-reservation", "value", help="Memory soft limit")
          .flag("--memory-swap", "value", help="Swap limit equal to memory plus swap: -1 to enable unlimited swap")
          .flag("--pids-limit", "int", help="Tune container pids limit (set -1 for unlimited)")
          .flag("--restart", "value", help="Restart policy to apply when a container exits"))


def update(cli: Cli, argv: list[str]) -> int:
    from berth.cli.runopts import OptionError, update_request

    ns = UPDATE.parse(argv)
    try:
        body = update_request(ns)
    except OptionError as exc:
        if exc.flag:
            raise UPDATE.flag_error(f'invalid argument "{exc.value}" for "{exc.flag}" flag: {exc}') from None
        raise StatusError(1, str(exc)) from None
    return for_each(cli, ns.args, lambda n: cli.client.post(f"/containers/{n}/update", body))


PORT = Command("port", "berth port CONTAINER [PRIVATE_PORT[/PROTO]]",
               "List port mappings or a specific mapping for the container", min_args=1, max_args=2)


def port(cli: Cli, argv: list[str]) -> int:
    ns = PORT.parse(argv)
    info = cli.client.get(f"/containers/{ns.args[0]}/json")
    ports: dict[str, Any] = (info.get("NetworkSettings") or {}).get("Ports") or {}
    want = asked = None
    if len(ns.args) > 1:
        asked = ns.args[1]
        want = asked if "/" in asked else asked + "/tcp"
    lines = []
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        if want and key != want:
            continue
        for b in ports[key] or []:
            ip = b.get("HostIp") or "0.0.0.0"
            host = f"[{ip}]" if ":" in ip else ip
            lines.append(f"{host}:{b.get('HostPort', '')}" if want else f"{key} -> {host}:{b.get('HostPort', '')}")
    if want and not lines:
        raise StatusError(1, f"Error: No public port '{asked}' published for {ns.args[0]}")
    cli.out("".join(f"{line}\n" for line in lines))
    return 0


DIFF = Command("diff", "berth diff CONTAINER",
               "Inspect changes to files or directories on a container's filesystem", min_args=1, max_args=1)


def diff(cli: Cli, argv: list[str]) -> int:
    ns = DIFF.parse(argv)
    changes = cli.client.get(f"/containers/{ns.args[0]}/changes") or []
    kinds = {0: "C", 1: "A", 2: "D"}
    cli.out("".join(f"{kinds.get(c.get('Kind'), '?')} {c.get('Path')}\n" for c in changes))
    return 0


COMMIT = (Command("commit", "berth commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
                  "Create a new image from a container's changes", min_args=1, max_args=2)
          .flag("-a, --author", "value", "", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
          .flag("-c, --change", "list", help="Apply Dockerfile instruction to the created image")
          .flag("-m, --message", "value", "", help="Commit message")
          .flag("-p, --pause", default=True, help="Pause container during commit"))


def commit(cli: Cli, argv: list[str]) -> int:
    from berth.cli.imageref import split_ref
    ns = COMMIT.parse(argv)
    repo, tag = split_ref(ns.args[1]) if len(ns.args) > 1 else ("", "")
    query = {"container": ns.args[0], "repo": repo, "tag": tag or "", "comment": ns.message,
             "author": ns.author, "pause": ns.pause, "changes": ns.change or None}
    out = cli.client.post("/commit", None, **query) or {}
    cli.out(f"{out.get('Id', '')}\n")
    return 0


SAVE = (Command("save", "berth save [OPTIONS] IMAGE [IMAGE...]",
                "Save one or more images to a tar archive (streamed to STDOUT by default)", min_args=1)
        .flag("-o, --output", "value", help="Write to a file, instead of STDOUT"))


def save(cli: Cli, argv: list[str]) -> int:
    ns = SAVE.parse(argv)
    if not ns.output and sys.stdout.isatty():
        raise StatusError(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
    resp = cli.client.stream("GET", "/images/get", {"names": ns.args})
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


LOAD = (Command("load", "berth load [OPTIONS]", "Load an image from a tar archive or STDIN", max_args=0)
        .flag("-i, --input", "value", help="Read from tar archive file, instead of STDIN")
        .flag("-q, --quiet", help="Suppress the load output"))


def load(cli: Cli, argv: list[str]) -> int:
    from berth.cli.commands.image import _progress
    ns = LOAD.parse(argv)
    if not ns.input and sys.stdin.isatty():
        raise StatusError(1, "requested load from stdin, but stdin is empty")
    body: Any = open(ns.input, "rb") if ns.input else sys.stdin.buffer  # noqa: SIM115 - closed below
    progress = _progress(cli)
    try:
        for msg in cli.client.json_stream("POST", "/images/load", {"quiet": ns.quiet}, body,
                                          {"Content-Type": "application/x-tar"}):
            progress.show(msg)
    finally:
        if ns.input:
            body.close()
    return 0


EVENTS = (Command("events", "berth events [OPTIONS]", "Get real time events from the server", max_args=0)
          .flag("-f, --filter", "list", help="Filter output based on conditions provided")
          .flag("--format", "value", "", help=FORMAT_HELP)
          .flag("--since", "value", help="Show all events created since timestamp")
          .flag("--until", "value", help="Stream events until this timestamp"))


def _event_line(ev: dict[str, Any]) -> str:
    import time
    nanos = int(ev.get("timeNano") or int(ev.get("time", 0)) * 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(nanos // 1_000_000_000))
    zone = time.strftime("%z", time.localtime(nanos // 1_000_000_000))
    zone = "Z" if zone in ("+0000", "-0000") else f"{zone[:3]}:{zone[3:]}"
    actor = ev.get("Actor") or {}
    attrs = ", ".join(f"{k}={v}" for k, v in sorted((actor.get("Attributes") or {}).items()))
    line = f"{stamp}.{nanos % 1_000_000_000:09d}{zone} {ev.get('Type')} {ev.get('Action')} "
    line += str(actor.get("ID", ""))
    return line + (f" ({attrs})" if attrs else "")


def events(cli: Cli, argv: list[str]) -> int:
    from berth.cli.commands.container import timestamp_param
    from berth.cli.templates import Template
    ns = EVENTS.parse(argv)
    query = {"since": timestamp_param(ns.since), "until": timestamp_param(ns.until),
             "filters": filters_json(ns.filter, EVENTS)}
    fmt = Template(ns.format.replace("\\t", "\t")) if ns.format and ns.format != "json" else None
    for ev in cli.client.json_stream("GET", "/events", query):
        if ns.format == "json":
            from berth.cli.templates import to_json
            text = to_json(ev)
        else:
            text = fmt.execute(ev) if fmt else _event_line(ev)
        cli.out(text + "\n")
        sys.stdout.flush()
    return 0
