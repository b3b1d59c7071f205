"""Volume commands: volume create, ls, inspect, rm, prune (docker's output)."""

from __future__ import annotations

from berth.cli.commands.container import FORMAT_HELP, confirm, filters_json, for_each, inspect_each
from berth.cli.formatter import render
from berth.cli.pflag import Command, StatusError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:

    from berth.cli.main import Cli

CREATE = (Command("volume create", "berth volume create [OPTIONS] [VOLUME]", "Create a volume", max_args=1)
          .flag("-d, --driver", "value", "local", help="Specify volume driver name")
          .flag("--label", "list", help="Set metadata for a volume")
          .flag("--name", "value", help="Specify volume name")
          .flag("-o, --opt", "list", help="Set driver specific options"))


def _pairs(items: list[str]) -> dict[str, str]:
    return dict((*item.split("=", 1), "")[:2] for item in items)  # type: ignore[misc]


def create(cli: Cli, argv: list[str]) -> int:
    ns = CREATE.parse(argv)
    if ns.args and ns.name and ns.args[0] != ns.name:
        raise StatusError(1, "conflicting options: cannot specify a volume-name through both --name and as a "
                             "positional arg")
    body = {"Name": ns.args[0] if ns.args else ns.name or "", "Driver": ns.driver, "DriverOpts": _pairs(ns.opt),
            "Labels": _pairs(ns.label)}
    vol = cli.client.post("/volumes/create", body)
    cli.out(f"{vol['Name']}\n")
    return 0


LS = (Command("volume ls", "berth volume ls [OPTIONS]", "List volumes", max_args=0)
      .flag("-f, --filter", "list", help="Provide filter values (e.g. \"dangling=true\")")
      .flag("--format", "value", "", help=FORMAT_HELP)
      .flag("-q, --quiet", help="Only display volume names"))

_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
            "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"}
_TABLE = "table {{.Driver}}\t{{.Name}}"


def ls(cli: Cli, argv: list[str]) -> int:
    ns = LS.parse(argv)
    vols = (cli.client.get("/volumes", filters=filters_json(list(ns.filter))) or {}).get("Volumes") or []
    rows = [{"Driver": v.get("Driver", "local"), "Name": v["Name"], "Scope": v.get("Scope", "local"),
             "Mountpoint": v.get("Mountpoint", ""),
             "Labels": ",".join(f"{k}={val}" for k, val in (v.get("Labels") or {}).items()),
             "Links": "N/A", "Size": "N/A"} for v in sorted(vols, key=lambda v: v["Name"])]
    if ns.quiet:
        cli.out("".join(f"{r['Name']}\n" for r in rows))
        return 0
    cli.out(render(ns.format, rows, _HEADERS, _TABLE))
    return 0


INSPECT = (Command("volume inspect", "berth volume inspect [OPTIONS] VOLUME [VOLUME...]",
                   "Display detailed information on one or more volumes", min_args=1)
           .flag("-f, --format", "value", "", help=FORMAT_HELP))


def inspect(cli: Cli, argv: list[str]) -> int:
    ns = INSPECT.parse(argv)
    return inspect_each(cli, [f"/volumes/{name}" for name in ns.args], ns.format)


RM = (Command("volume rm", "berth volume rm [OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes",
              min_args=1)
      .flag("-f, --force", help="Force the removal of one or more volumes"))


def rm(cli: Cli, argv: list[str]) -> int:
    ns = RM.parse(argv)
    return for_each(cli, ns.args, lambda name: cli.client.delete(f"/volumes/{name}",
                                                                 force="true" if ns.force else None))


PRUNE = (Command("volume prune", "berth volume prune [OPTIONS]", "Remove unused local volumes", max_args=0)
         .flag("-a, --all", help="Remove all unused volumes, not just anonymous ones")
         .flag("--filter", "list", help='Provide filter values (e.g. "label=<label>")')
         .flag("-f, --force", help="Do not prompt for confirmation"))


def prune(cli: Cli, argv: list[str]) -> int:
    from berth.cli.units import human_size

    ns = PRUNE.parse(argv)
    warning = ("WARNING! This will remove all local volumes not used by at least one container." if ns.all else
               "WARNING! This will remove anonymous local volumes not used by at least one container.")
    if not ns.force and not confirm(cli, warning):
        return 0
    filters = list(ns.filter) + (["all=true"] if ns.all else [])
    report = cli.client.post("/volumes/prune", filters=filters_json(filters)) or {}
    deleted = report.get("VolumesDeleted") or []
    if deleted:
        cli.out("Deleted Volumes:\n" + "".join(f"{n}\n" for n in deleted) + "\n")
    cli.out(f"Total reclaimed space: {human_size(report.get('SpaceReclaimed') or 0)}\n")
    return 0
