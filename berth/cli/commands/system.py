"""`berth version` and `berth info`."""

from __future__ import annotations

import platform

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
            "GoVersion": "python" + platform.python_version(), "GitCommit": "", "BuildTime": "",
            "Os": "linux", "Arch": _GOARCH.get(platform.machine(), platform.machine()), "Context": "default"}


def version(cli: Cli, argv: list[str]) -> int:
    ns = VERSION.parse(argv)
    client = _client_info(cli)
    server = None
    error = None
    try:
        server = cli.client.get("/version")
        client["ApiVersion"] = cli.client.api_version
    except Exception as exc:  # docker prints the client part, then the error
        error = exc
    if ns.format:
        cli.out(Template(ns.format).execute({"Client": client, "Server": server}) + "\n")
    else:
        cli.out(_version_text(client, server))
    if error is not None:
        raise error
    return 0


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
                  f"  Built:            {s.get('BuildTime', '')}",
                  f"  OS/Arch:          {s.get('Os', '')}/{s.get('Arch', '')}",
                  f"  Experimental:     {str(s.get('Experimental', False)).lower()}"]
    return "\n".join(lines) + "\n"


_INFO_FIELDS = [
    ("Containers", "Containers"), (" Running", "ContainersRunning"), (" Paused", "ContainersPaused"),
    (" Stopped", "ContainersStopped"), ("Images", "Images"), ("Server Version", "ServerVersion"),
    ("Storage Driver", "Driver"), ("Logging Driver", "LoggingDriver"), ("Cgroup Driver", "CgroupDriver"),
    ("Cgroup Version", "CgroupVersion"), ("Kernel Version", "KernelVersion"),
    ("Operating System", "OperatingSystem"), ("OSType", "OSType"), ("Architecture", "Architecture"),
    ("CPUs", "NCPU"), ("Total Memory", "MemTotal"), ("Name", "Name"), ("ID", "ID"),
    ("Docker Root Dir", "DockerRootDir"), ("Debug Mode", "Debug"), ("Experimental", "ExperimentalBuild"),
    ("Live Restore Enabled", "LiveRestoreEnabled"),
]


def info(cli: Cli, argv: list[str]) -> int:
    ns = INFO.parse(argv)
    data = cli.client.get("/info")
    if ns.format:
        cli.out(Template(ns.format).execute(data) + "\n")
        return 0
    lines = ["Client:", f" Version:    {_client_info(cli)['Version']}", " Context:    default",
             " Debug Mode: false", "", "Server:"]
    for label, key in _INFO_FIELDS:
        if key in data:
            value = data[key]
            if key == "MemTotal":
                from berth.cli.units import human_size
                value = human_size(value)
            elif isinstance(value, bool):
                value = str(value).lower()
            lines.append(f" {label}: {value}")
    lines += [f" WARNING: {w}" for w in data.get("Warnings") or []]
    cli.out("\n".join(lines) + "\n")
    return 0
