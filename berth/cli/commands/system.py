"""`berth version` and `berth info`."""

from __future__ import annotations

import os
import sys

from berth.cli.pflag import Command
from berth.cli.templates import Template

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Cli

VERSION = (Command("version", "berth version [OPTIONS]", "Show the Berth version information",
                   max_args=0)
           .flag("-f, --format", "value", "", help="Format output using a custom template"))
INFO = (Command("info", "berth info [OPTIONS]", "Display system-wide information", max_args=0)
        .flag("-f, --format", "value", "", help="Format output using a custom template"))


_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
           "s390x": "s390x"}


def _client_info(cli: Cli) -> dict[str, Any]:
    from berth import __version__
    from berth.client.api import MAX_API_VERSION
    return {"Version": __version__, "ApiVersion": MAX_API_VERSION, "DefaultAPIVersion": MAX_API_VERSION,
            "GoVersion": "python{}.{}.{}".format(*sys.version_info[:3]), "GitCommit": "", "BuildTime": "",
            "Os": "linux", "Arch": _GOARCH.get(os.uname().machine, os.uname().machine), "Context": "default"}


def version(cli: Cli, argv: list[str]) -> int:
    ns = VERSION.parse(argv)
    client = _client_info(cli)
    server = None
    error = None
    try:
        server = cli.client.get("/version")
        negotiated = cli.client.api_version
        if negotiated != client["ApiVersion"]:
            negotiated += f" (downgraded from {client['ApiVersion']})"
        client["ApiVersion"] = negotiated
    except Exception as exc:  # docker prints the client part, then the error
        error = exc
    if ns.format:
        cli.out(Template(ns.format).execute({"Client": _go_fields(client), "Server": _go_fields(server)}) + "\n")
    else:
        cli.out(_version_text(client, server))
    if error is not None:
        raise error
    return 0


def _go_fields(doc: dict[str, object] | None) -> dict[str, object] | None:
    """docker's templates see Go field names: ApiVersion is APIVersion, MinAPIVersion stays."""
    if doc is None:
        return None
    out = dict(doc)
    if "ApiVersion" in doc:
        out["APIVersion"] = doc["ApiVersion"]
    return out


def _ansic(stamp: str) -> str:
    """Go's time.ANSIC in local time, as docker shows build times."""
    import time

    from berth.util.timefmt import from_rfc3339
    try:
        ns = from_rfc3339(stamp)
    except ValueError:
        return stamp
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(ns / 1e9)) if ns else stamp


def _version_text(c: dict[str, Any], s: dict[str, Any] | None) -> str:
    lines = ["Client:", f" Version:           {c['Version']}", f" API version:       {c['ApiVersion']}",
             f" Go version:        {c['GoVersion']}", f" Git commit:        {c['GitCommit']}",
             f" Built:             {c['BuildTime']}", f" OS/Arch:           {c['Os']}/{c['Arch']}",
             f" Context:           {c['Context']}"]
    if s is not None:
        name = (s.get("Platform") or {}).get("Name", "")
        lines += ["", f"Server: {name}".rstrip(), " Engine:",
                  f"  Version:          {s.get('Version', '')}",
                  f"  API version:      {s.get('ApiVersion', '')} "
                  f"(minimum version {s.get('MinAPIVersion', '')})",
                  f"  Go version:       {s.get('GoVersion', '')}",
                  f"  Git commit:       {s.get('GitCommit', '')}",
                  f"  Built:            {_ansic(str(s.get('BuildTime', '')))}",
                  f"  OS/Arch:          {s.get('Os', '')}/{s.get('Arch', '')}",
                  f"  Experimental:     {str(s.get('Experimental', False)).lower()}"]
    return "\n".join(lines) + "\n"


def _security(opts: list[str]) -> list[str]:
    out = []
    for opt in opts:
        fields = dict(f.split("=", 1) for f in opt.split(",") if "=" in f)
        out.append(f"  {fields.get('name', opt)}")
        out += [f"   {k.capitalize()}: {v}" for k, v in fields.items() if k != "name"]
    return out


def _commit(d: dict[str, Any], key: str) -> str:
    return str((d.get(key) or {}).get("ID", ""))


def _info_text(d: dict[str, Any]) -> str:
    from berth.cli.units import bytes_size
    plugins = d.get("Plugins") or {}
    registries = (d.get("RegistryConfig") or {}).get("InsecureRegistryCIDRs") or []
    lines = [
        f" Containers: {d.get('Containers', 0)}", f"  Running: {d.get('ContainersRunning', 0)}",
        f"  Paused: {d.get('ContainersPaused', 0)}", f"  Stopped: {d.get('ContainersStopped', 0)}",
        f" Images: {d.get('Images', 0)}", f" Server Version: {d.get('ServerVersion', '')}",
        f" Storage Driver: {d.get('Driver', '')}",
        *[f"  {k}: {v}" for k, v in d.get("DriverStatus") or []],
        f" Logging Driver: {d.get('LoggingDriver', '')}", f" Cgroup Driver: {d.get('CgroupDriver', '')}",
        f" Cgroup Version: {d.get('CgroupVersion', '')}", " Plugins:",
        f"  Volume: {' '.join(plugins.get('Volume') or [])}",
        f"  Network: {' '.join(plugins.get('Network') or [])}",
        f"  Log: {' '.join(plugins.get('Log') or [])}",
        f" Swarm: {(d.get('Swarm') or {}).get('LocalNodeState', 'inactive')}",
        f" Runtimes: {' '.join(sorted(d.get('Runtimes') or {}))}",
        f" Default Runtime: {d.get('DefaultRuntime', '')}", f" Init Binary: {d.get('InitBinary', '')}",
        f" containerd version: {_commit(d, 'ContainerdCommit')}", f" runc version: {_commit(d, 'RuncCommit')}",
        f" init version: {_commit(d, 'InitCommit')}", " Security Options:",
        *_security(d.get("SecurityOptions") or []),
        f" Kernel Version: {d.get('KernelVersion', '')}", f" Operating System: {d.get('OperatingSystem', '')}",
        f" OSType: {d.get('OSType', '')}", f" Architecture: {d.get('Architecture', '')}",
        f" CPUs: {d.get('NCPU', 0)}", f" Total Memory: {bytes_size(d.get('MemTotal', 0))}",
        f" Name: {d.get('Name', '')}", f" ID: {d.get('ID', '')}",
        f" Docker Root Dir: {d.get('DockerRootDir', '')}",
        f" Debug Mode: {str(bool(d.get('Debug'))).lower()}",
        f" Experimental: {str(bool(d.get('ExperimentalBuild'))).lower()}",
    ]
    if d.get("Labels"):
        lines += [" Labels:", *[f"  {label}" for label in d["Labels"]]]
    if registries:
        lines += [" Insecure Registries:", *[f"  {r}" for r in registries]]
    lines.append(f" Live Restore Enabled: {str(bool(d.get('LiveRestoreEnabled'))).lower()}")
    return "\n".join(lines) + "\n\n"


def info(cli: Cli, argv: list[str]) -> int:
    ns = INFO.parse(argv)
    data = cli.client.get("/info")
    if ns.format:
        cli.out(Template(ns.format).execute(data) + "\n")
        return 0
    cli.out(f"Client:\n Version:    {_client_info(cli)['Version']}\n Context:    default\n"
            " Debug Mode: false\n\nServer:\n" + _info_text(data))
    for warning in data.get("Warnings") or []:
        cli.err(f"{warning}\n")
    return 0


DF = (Command("df", "berth system df [OPTIONS]", "Show docker disk usage", max_args=0)
      .flag("-f, --format", "value", "", help="Format output using a custom template")
      .flag("-v, --verbose", help="Show detailed information on space usage"))
_DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
_DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
               "Reclaimable": "RECLAIMABLE"}


def _reclaimable(reclaimable: int, total: int) -> str:
    from berth.cli.units import human_size

    text = human_size(reclaimable, 4)
    return f"{text} ({reclaimable * 100 // total}%)" if total > 0 else text


def df_rows(d: dict[str, Any]) -> list[dict[str, str]]:
    """The four summary rows of `docker system df`, with the docker CLI's arithmetic."""
    from berth.cli.units import human_size

    images, containers = d.get("Images") or [], d.get("Containers") or []
    layers = int(d.get("LayersSize") or 0)
    used = sum(int(i.get("Size", 0)) - int(i.get("SharedSize", 0)) for i in images
               if i.get("Containers") and i.get("SharedSize", -1) != -1)
    rw_total = sum(int(c.get("SizeRw") or 0) for c in containers)
    rw_idle = sum(int(c.get("SizeRw") or 0) for c in containers if c.get("State") != "running")
    return [
        {"Type": "Images", "TotalCount": str(len(images)), "Active": str(sum(1 for i in images if i.get("Containers"))),
         "Size": human_size(layers, 4), "Reclaimable": _reclaimable(layers - used, layers)},
        {"Type": "Containers", "TotalCount": str(len(containers)),
         "Active": str(sum(1 for c in containers if c.get("State") == "running")), "Size": human_size(rw_total, 4),
         "Reclaimable": _reclaimable(rw_idle, rw_total)},
        {"Type": "Local Volumes", "TotalCount": str(len(d.get("Volumes") or [])), "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
        {"Type": "Build Cache", "TotalCount": str(len(d.get("BuildCache") or [])), "Active": "0", "Size": "0B",
         "Reclaimable": "0B"},
    ]


def df(cli: Cli, argv: list[str]) -> int:
    from berth.cli.formatter import ContainerRow, ImageRow, render

    ns = DF.parse(argv)
    data = cli.client.get("/system/df")
    if not ns.verbose:
        cli.out(render(ns.format, df_rows(data), _DF_HEADERS, _DF_TABLE))
        return 0
    images = []
    for i in data.get("Images") or []:
        repo, _, tag = ((i.get("RepoTags") or ["<none>:<none>"])[0]).rpartition(":")
        images.append(ImageRow(i, repo, tag))
    containers = [ContainerRow({**c, "SizeRootFs": 0}) for c in data.get("Containers") or []]  # rw size only
    cli.out("Images space usage:\n\n")
    cli.out(render("", images, ImageRow.HEADERS, "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t"
                   "{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"))
    cli.out("\nContainers space usage:\n\n")
    cli.out(render("", containers, ContainerRow.HEADERS, "table {{.ID}}\t{{.Image}}\t{{.Command}}\t"
                   "{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"))
    cli.out("\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n\nBuild cache usage: 0B\n\n"
            "CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n")
    return 0
