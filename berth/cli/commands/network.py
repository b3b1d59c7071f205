"""Network commands: network ls, create, inspect, rm, prune, connect, disconnect."""

from __future__ import annotations

from berth.cli.commands.container import FORMAT_HELP, confirm, filters_json, inspect_each
from berth.cli.formatter import render
from berth.cli.pflag import Command, StatusError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Cli

LS = (Command("network ls", "berth network ls [OPTIONS]", "List networks", max_args=0)
      .flag("-f, --filter", "list", help='Provide filter values (e.g. "driver=bridge")')
      .flag("--format", "value", "", help=FORMAT_HELP)
      .flag("--no-trunc", help="Do not truncate the output")
      .flag("-q, --quiet", help="Only display network IDs"))

_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
            "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS"}
_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"


def ls(cli: Cli, argv: list[str]) -> int:
    ns = LS.parse(argv)
    nets = cli.client.get("/networks", filters=filters_json(list(ns.filter))) or []
    nets.sort(key=lambda n: n.get("Name", ""))
    rows = [{"ID": n["Id"] if ns.no_trunc else n["Id"][:12], "Name": n["Name"], "Driver": n["Driver"],
             "Scope": n.get("Scope", "local"), "IPv6": str(bool(n.get("EnableIPv6"))).lower(),
             "Internal": str(bool(n.get("Internal"))).lower(), "CreatedAt": n.get("Created", ""),
             "Labels": ",".join(f"{k}={v}" for k, v in (n.get("Labels") or {}).items())} for n in nets]
    if ns.quiet:
        cli.out("".join(f"{r['ID']}\n" for r in rows))
        return 0
    cli.out(render(ns.format, rows, _HEADERS, _TABLE))
    return 0


CREATE = (Command("network create", "berth network create [OPTIONS] NETWORK", "Create a network",
                  min_args=1, max_args=1)
          .flag("-d, --driver", "value", "bridge", help="Driver to manage the Network")
          .flag("--subnet", "list", help="Subnet in CIDR format that represents a network segment")
          .flag("--gateway", "list", help="IPv4 or IPv6 Gateway for the master subnet")
          .flag("--ip-range", "list", help="Allocate container ip from a sub-range")
          .flag("--internal", help="Restrict external access to the network")
          .flag("--attachable", help="Enable manual container attachment")
          .flag("--label", "list", help="Set metadata on a network")
          .flag("-o, --opt", "list", help="Set driver specific options"))


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def create(cli: Cli, argv: list[str]) -> int:
    ns = CREATE.parse(argv)
    configs: list[dict[str, str]] = []
    for i, subnet in enumerate(ns.subnet):
        cfg = {"Subnet": subnet}
        if i < len(ns.gateway):
            cfg["Gateway"] = ns.gateway[i]
        if i < len(ns.ip_range):
            cfg["IPRange"] = ns.ip_range[i]
        configs.append(cfg)
    body = {"Name": ns.args[0], "Driver": ns.driver, "Internal": ns.internal, "Attachable": ns.attachable,
            "Labels": _pairs(list(ns.label)), "Options": _pairs(list(ns.opt)),
            "IPAM": {"Driver": "default", "Config": configs, "Options": {}}}
    reply = cli.client.post("/networks/create", body) or {}
    cli.out(f"{reply.get('Id', '')}\n")
    return 0


INSPECT = (Command("network inspect", "berth network inspect [OPTIONS] NETWORK [NETWORK...]",
                   "Display detailed information on one or more networks", min_args=1)
           .flag("-f, --format", "value", "", help=FORMAT_HELP)
           .flag("-v, --verbose", help="Verbose output for diagnostics"))


def inspect(cli: Cli, argv: list[str]) -> int:
    ns = INSPECT.parse(argv)
    return inspect_each(cli, [f"/networks/{name}" for name in ns.args], ns.format)


RM = (Command("network rm", "berth network rm NETWORK [NETWORK...]", "Remove one or more networks", min_args=1)
      .flag("-f, --force", help="Do not error if the network does not exist"))


def rm(cli: Cli, argv: list[str]) -> int:
    from berth.client import APIError
    ns = RM.parse(argv)
    failed = False
    for name in ns.args:
        try:
            cli.client.delete(f"/networks/{name}")
        except APIError as exc:
            if ns.force and "not found" in str(exc):
                continue
            cli.err(f"{exc}\n")
            failed = True
            continue
        cli.out(f"{name}\n")
    if failed:
        raise StatusError(1, "")
    return 0


PRUNE = (Command("network prune", "berth network prune [OPTIONS]", "Remove all unused networks", max_args=0)
         .flag("--filter", "list", help='Provide filter values (e.g. "until=<timestamp>")')
         .flag("-f, --force", help="Do not prompt for confirmation"))


def prune(cli: Cli, argv: list[str]) -> int:
    ns = PRUNE.parse(argv)
    if not ns.force and not confirm(cli, "WARNING! This will remove all custom networks not used by at least "
                                         "one container."):
        return 0
    report = cli.client.post("/networks/prune", filters=filters_json(list(ns.filter))) or {}
    deleted = report.get("NetworksDeleted") or []
    if deleted:
        cli.out("Deleted Networks:\n" + "".join(f"{n}\n" for n in deleted) + "\n")
    return 0


CONNECT = (Command("network connect", "berth network connect [OPTIONS] NETWORK CONTAINER",
                   "Connect a container to a network", min_args=2, max_args=2)
           .flag("--alias", "list", help="Add network-scoped alias for the container")
           .flag("--ip", "value", "", help="IPv4 address (e.g., \"172.30.100.104\")"))


def connect(cli: Cli, argv: list[str]) -> int:
    ns = CONNECT.parse(argv)
    ep: dict[str, Any] = {"Aliases": list(ns.alias) or None}
    if ns.ip:
        ep["IPAMConfig"] = {"IPv4Address": ns.ip}
    cli.client.post(f"/networks/{ns.args[0]}/connect", {"Container": ns.args[1], "EndpointConfig": ep})
    return 0


DISCONNECT = (Command("network disconnect", "berth network disconnect [OPTIONS] NETWORK CONTAINER",
                      "Disconnect a container from a network", min_args=2, max_args=2)
              .flag("-f, --force", help="Force the container to disconnect from a network"))


def disconnect(cli: Cli, argv: list[str]) -> int:
    ns = DISCONNECT.parse(argv)
    cli.client.post(f"/networks/{ns.args[0]}/disconnect", {"Container": ns.args[1], "Force": ns.force})
    return 0
