"""`run`/`create` flags and their translation into the container create request (docker's runconfig)."""

from __future__ import annotations

import os

from berth.cli.pflag import Command, StatusError
from berth.cli.units import ram_in_bytes
from berth.util.portspec import PortSpecError, parse_port_range, parse_port_spec, split_proto


class OptionError(ValueError):
    """A run/create option docker's CLI rejects before any request; `flag` (with its `value`) when the flag's
    own parser rejects it, which docker reports with the usage."""

    def __init__(self, message: str, flag: str = "", value: str = "") -> None:
        super().__init__(message)
        self.flag, self.value = flag, value

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

__all__ = ["OptionError", "container_flags", "create_request", "parse_env_file", "parse_ports", "update_request"]

_LISTS = [
    ("--add-host", "Add a custom host-to-IP mapping (host:ip)"), ("--cap-add", "Add Linux capabilities"),
    ("--cap-drop", "Drop Linux capabilities"), ("--device", "Add a host device to the container"),
    ("--dns", "Set custom DNS servers"), ("--dns-option", "Set DNS options"),
    ("--dns-search", "Set custom DNS search domains"),
    ("--env-file", "Read in a file of environment variables"),
    ("--expose", "Expose a port or a range of ports"), ("--group-add", "Add additional groups to join"),
    ("--label-file", "Read in a line delimited file of labels"),
    ("--log-opt", "Log driver options"),
    ("--mount", "Attach a filesystem mount to the container"),
    ("--network-alias", "Add network-scoped alias"),
    ("--security-opt", "Security Options"), ("--sysctl", "Sysctl options"),
    ("--device-cgroup-rule", "Add a rule to the cgroup allowed devices list"),
    ("--tmpfs", "Mount a tmpfs directory"),
    ("--ulimit", "Ulimit options"), ("--volumes-from", "Mount volumes from the specified container(s)"),
]
_VALUES = [
    ("--cidfile", "Write the container ID to the file"), ("--cpus", "Number of CPUs"),
    ("--cpuset-cpus", "CPUs in which to allow execution (0-3, 0,1)"),
    ("--entrypoint", "Overwrite the default ENTRYPOINT of the image"), ("--ipc", "IPC mode to use"),
    ("--log-driver", "Logging driver for the container"),
    ("--mac-address", "Container MAC address"), ("--memory-swap", "Swap limit equal to memory plus swap"),
    ("--name", "Assign a name to the container"), ("--network", "Connect a container to a network"),
    ("--pid", "PID namespace to use"), ("--platform", "Set platform if server is multi-platform capable"),
    ("--pull", 'Pull image before running ("always", "missing", "never")'),
    ("--restart", "Restart policy to apply when a container exits"), ("--shm-size", "Size of /dev/shm"),
    ("--stop-signal", "Signal to stop the container"), ("--userns", "User namespace to use"),
    ("--uts", "UTS namespace to use"), ("--health-cmd", "Command to run to check health"),
]
_BOOLS = [
    ("--init", "Run an init inside the container that forwards signals and reaps processes"),
    ("--no-healthcheck", "Disable any container-specified HEALTHCHECK"),
    ("--oom-kill-disable", "Disable OOM Killer"),
    ("--privileged", "Give extended privileges to this container"),
    ("-P, --publish-all", "Publish all exposed ports to random ports"),
    ("--read-only", "Mount the container's root filesystem as read only"),
    ("--rm", "Automatically remove the container and its associated anonymous volumes when it exits"),
    ("-i, --interactive", "Keep STDIN open even if not attached"), ("-t, --tty", "Allocate a pseudo-TTY"),
    ("-q, --quiet", "Suppress the pull output"),
]


def container_flags(cmd: Command, run: bool) -> Command:
    """Add docker's create/run flags to cmd."""
    for names, text in _LISTS:
        cmd.flag(names, "list", help=text)
    for names, text in _VALUES:
        cmd.flag(names, "value", help=text)
    for names, text in _BOOLS:
        cmd.flag(names, help=text)
    (cmd.flag("-a, --attach", "list", help="Attach to STDIN, STDOUT or STDERR")
     .flag("-c, --cpu-shares", "int", help="CPU shares (relative weight)")
     .flag("-e, --env", "list", help="Set environment variables")
     .flag("-h, --hostname", "value", help="Container host name")
     .flag("-l, --label", "list", help="Set meta data on a container")
     .flag("-m, --memory", "value", help="Memory limit")
     .flag("--net", "value", dest="network", hidden=True)
     .flag("--ip", "value", help="IPv4 address (e.g., 172.30.100.104)")
     .flag("--oom-score-adj", "int", help="Tune host's OOM preferences (-1000 to 1000)")
     .flag("--pids-limit", "int", help="Tune container pids limit (set -1 for unlimited)")
     .flag("-p, --publish", "list", help="Publish a container's port(s) to the host")
     .flag("--stop-timeout", "int", help="Timeout (in seconds) to stop a container")
     .flag("-u, --user", "value", help="Username or UID (format: <name|uid>[:<group|gid>])")
     .flag("-v, --volume", "list", help="Bind mount a volume")
     .flag("-w, --workdir", "value", help="Working directory inside the container"))
    if run:
        (cmd.flag("-d, --detach", help="Run container in background and print container ID")
         .flag("--detach-keys", "value", help="Override the key sequence for detaching a container")
         .flag("--sig-proxy", default=True, help="Proxy received signals to the process"))
    return cmd


def parse_env_file(path: str) -> list[str]:
    """docker's env-file: KEY=value lines; `KEY` alone takes the local value; # comments."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise OptionError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    return [line.lstrip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _env(items: list[str]) -> list[str]:
    out = []
    for item in items:
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
        else:
            out.append(item)
    return out


def parse_ports(specs: list[str], expose: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """-p and --expose -> (ExposedPorts, PortBindings), with docker's errors."""
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        try:
            mappings = parse_port_spec(spec)
        except PortSpecError as exc:
            raise OptionError(str(exc)) from None
        for m in mappings:
            exposed[m.key] = {}
            bindings.setdefault(m.key, []).append({"HostIp": m.host_ip, "HostPort": m.host_port})
    for spec in expose:
        port, proto = split_proto(spec)
        try:
            first, last = parse_port_range(port)
        except ValueError:
            raise OptionError(f"invalid range format for --expose: {spec}") from None
        for p in range(first, last + 1):
            exposed[f"{p}/{proto}"] = {}
    return exposed, bindings


def _mount(spec: str) -> dict[str, Any]:
    mount: dict[str, Any] = {"Type": "volume"}
    for field in spec.split(","):
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if key == "type":
            mount["Type"] = value
        elif key in ("source", "src"):
            mount["Source"] = value
        elif key in ("target", "destination", "dst"):
            mount["Target"] = value
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = not eq or value in ("1", "true")
    return mount


def _labels(items: list[str], files: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in [line for f in files for line in parse_env_file(f)] + items:
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


def _host_config(ns: Any, bindings: dict[str, Any]) -> dict[str, Any]:
    hc: dict[str, Any] = {
        "Binds": [v for v in ns.volume if ":" in v] or None, "PortBindings": bindings,
        "PublishAllPorts": ns.publish_all, "NetworkMode": ns.network or "default",
        "AutoRemove": ns.rm, "RestartPolicy": _restart(ns.restart), "Privileged": ns.privileged,
        "CapAdd": _caps(ns.cap_add), "CapDrop": _caps(ns.cap_drop), "SecurityOpt": ns.security_opt or None,
        "ReadonlyRootfs": ns.read_only, "Dns": ns.dns, "DnsOptions": ns.dns_option,
        "DnsSearch": ns.dns_search, "ExtraHosts": ns.add_host or None, "GroupAdd": ns.group_add or None,
        "IpcMode": ns.ipc or "", "PidMode": ns.pid or "", "UTSMode": ns.uts or "",
        "UsernsMode": ns.userns or "",
        "VolumesFrom": ns.volumes_from or None, "OomKillDisable": ns.oom_kill_disable,
        "LogConfig": {"Type": ns.log_driver or "", "Config": dict((*o.split("=", 1), "")[:2] for o in ns.log_opt)},
        "Ulimits": [_ulimit(u) for u in ns.ulimit], "Devices": [_device(d) for d in ns.device],
        "MemorySwappiness": -1, "ConsoleSize": [0, 0],
    }
    if ns.mount:
        hc["Mounts"] = [_mount(m) for m in ns.mount]
    if ns.tmpfs:
        hc["Tmpfs"] = {t.split(":", 1)[0]: [*t.split(":", 1), ""][1] for t in ns.tmpfs}
    if ns.init:
        hc["Init"] = True
    if ns.memory:
        hc["Memory"] = _size(ns.memory, "-m, --memory")
    if ns.memory_swap:
        hc["MemorySwap"] = -1 if ns.memory_swap == "-1" else _size(ns.memory_swap, "--memory-swap")
    if ns.shm_size:
        hc["ShmSize"] = _size(ns.shm_size, "--shm-size")
    if ns.cpus:
        hc["NanoCpus"] = _nano_cpus(ns.cpus)
    if ns.cpu_shares is not None:
        hc["CpuShares"] = ns.cpu_shares
    if ns.cpuset_cpus:
        hc["CpusetCpus"] = ns.cpuset_cpus
    if ns.pids_limit is not None:
        hc["PidsLimit"] = ns.pids_limit
    if ns.oom_score_adj:
        hc["OomScoreAdj"] = ns.oom_score_adj
    if ns.device_cgroup_rule:
        hc["DeviceCgroupRules"] = ns.device_cgroup_rule
    if ns.sysctl:
        hc["Sysctls"] = dict(_sysctl(s) for s in ns.sysctl)
    return hc


def _size(text: str, flag: str) -> int:
    try:
        return ram_in_bytes(text)
    except ValueError as exc:
        raise OptionError(str(exc), flag, text) from None


def _nano_cpus(text: str) -> int:
    """docker's --cpus: a rational number ("1.5", "1/2") of CPUs, in billionths that must come out whole."""
    from fractions import Fraction

    try:
        nano = Fraction(text) * 1_000_000_000
    except (ValueError, ZeroDivisionError):
        raise OptionError(f"failed to parse {text} as a rational number", "--cpus", text) from None
    if nano.denominator != 1:
        raise OptionError("value is too precise", "--cpus", text)
    return int(nano)


def _sysctl(spec: str) -> tuple[str, str]:
    key, eq, value = spec.partition("=")
    if not eq or not key:
        raise OptionError(f"sysctl '{spec}' is not allowed", "--sysctl", spec)
    return key, value


def _caps(names: list[str]) -> list[str] | None:
    """docker normalizes capability names: "net_admin" -> "CAP_NET_ADMIN" ("ALL" stays)."""
    out = [n.upper() if n.upper() == "ALL" or n.upper().startswith("CAP_") else "CAP_" + n.upper()
           for n in names]
    return out or None


def _restart(value: str | None) -> dict[str, Any]:
    name, colon, count = (value or "no").partition(":")
    if colon and not name:
        raise OptionError("invalid restart policy format: no policy provided before colon")
    if count and not _is_int(count):
        raise OptionError("invalid restart policy format: maximum retry count must be an integer")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def _is_int(text: str) -> bool:
    """What Go's strconv.Atoi takes: an optional sign and ASCII digits."""
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()


ULIMITS = frozenset(("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
                     "rss", "rtprio", "rttime", "sigpending", "stack"))


def _ulimit(spec: str) -> dict[str, Any]:
    """docker's --ulimit NAME=SOFT[:HARD] (go-units ParseUlimit), with its texts."""
    name, eq, limits = spec.partition("=")
    if not eq:
        raise OptionError(f"invalid ulimit argument: {spec}", "--ulimit", spec)
    if name not in ULIMITS:
        raise OptionError(f"invalid ulimit type: {name}", "--ulimit", spec)
    values = limits.split(":")
    if len(values) > 2:
        raise OptionError(f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`",
                          "--ulimit", spec)
    for v in values:
        if not _is_int(v):
            raise OptionError(f'strconv.ParseInt: parsing "{v}": invalid syntax', "--ulimit", spec)
    soft, hard = int(values[0]), int(values[-1])
    if hard != -1 and soft > hard:
        raise OptionError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}",
                          "--ulimit", spec)
    return {"Name": name, "Soft": soft, "Hard": hard}




def _device(spec: str) -> dict[str, str]:
    """docker's --device HOST[:CONTAINER][:PERMS]; a second part made of r, w, m is the permissions."""
    parts = spec.split(":")
    inside, perms = parts[0], "rwm"
    if len(parts) == 2 and parts[1] and set(parts[1]) <= set("rwm"):
        perms = parts[1]
    elif len(parts) >= 2:
        inside = parts[1]
        perms = parts[2] if len(parts) > 2 else "rwm"
    return {"PathOnHost": parts[0], "PathInContainer": inside, "CgroupPermissions": perms}


def create_request(ns: Any, run: bool, console: tuple[int, int] | None = None) -> tuple[dict[str, Any],
                                                                                          dict[str, Any]]:
    """(query, body) of POST /containers/create for parsed run/create flags (ns.args = image + cmd)."""
    detach = run and ns.detach
    if run and ns.attach and detach:
        raise StatusError(1, "conflicting options: cannot specify both --attach and --detach")  # docker's plain error
    if ns.rm and ns.restart and ns.restart not in ("no", ""):
        raise OptionError("conflicting options: cannot specify both --restart and --rm")
    image, cmd = ns.args[0], ns.args[1:]
    attach = {s.lower() for s in ns.attach} if ns.attach else {"stdout", "stderr"}
    if ns.interactive:
        attach.add("stdin")
    exposed, bindings = parse_ports(ns.publish, ns.expose)
    env = _env([line for f in ns.env_file for line in parse_env_file(f)] + ns.env)
    body: dict[str, Any] = {
        "Hostname": ns.hostname or "", "Domainname": "", "User": ns.user or "",
        "AttachStdin": not detach and "stdin" in attach, "AttachStdout": not detach and "stdout" in attach,
        "AttachStderr": not detach and "stderr" in attach, "Tty": ns.tty, "OpenStdin": ns.interactive,
        "StdinOnce": ns.interactive and not detach and "stdin" in attach, "Env": env or None,
        "Cmd": cmd or None, "Image": image, "WorkingDir": ns.workdir or "",
        "Entrypoint": [ns.entrypoint] if ns.entrypoint is not None else None,
        "Labels": _labels(ns.label, ns.label_file),
        "Volumes": {v: {} for v in ns.volume if ":" not in v},
    }
    if exposed:
        body["ExposedPorts"] = exposed
    if ns.stop_signal:
        body["StopSignal"] = ns.stop_signal
    if ns.stop_timeout is not None:
        body["StopTimeout"] = ns.stop_timeout
    if ns.mac_address:
        body["MacAddress"] = ns.mac_address
    if ns.no_healthcheck:
        body["Healthcheck"] = {"Test": ["NONE"]}
    elif ns.health_cmd:
        body["Healthcheck"] = {"Test": ["CMD-SHELL", ns.health_cmd]}
    body["HostConfig"] = _host_config(ns, bindings)
    if ns.tty and console:
        body["HostConfig"]["ConsoleSize"] = list(console)
    net = ns.network or "default"
    endpoint: dict[str, Any] = {"Aliases": ns.network_alias or None}
    if ns.ip:
        endpoint["IPAMConfig"] = {"IPv4Address": ns.ip}
    body["NetworkingConfig"] = {"EndpointsConfig": {net: endpoint}}
    query = {"name": ns.name, "platform": ns.platform}
    return query, body


def update_request(ns: Any) -> dict[str, Any]:
    """The body of POST /containers/{id}/update for `update` flags (unset flags stay out: no change)."""
    body: dict[str, Any] = {}
    for key, value in (("BlkioWeight", ns.blkio_weight), ("CpuPeriod", ns.cpu_period), ("CpuQuota", ns.cpu_quota),
                       ("CpuRealtimePeriod", ns.cpu_rt_period), ("CpuRealtimeRuntime", ns.cpu_rt_runtime),
                       ("CpuShares", ns.cpu_shares), ("CpusetCpus", ns.cpuset_cpus), ("CpusetMems", ns.cpuset_mems),
                       ("PidsLimit", ns.pids_limit)):
        if value is not None:
            body[key] = value
    if ns.cpus:
        body["NanoCpus"] = _nano_cpus(ns.cpus)
    for key, flag, text in (("Memory", "-m, --memory", ns.memory),
                            ("MemoryReservation", "--memory-reservation", ns.memory_reservation)):
        if text:
            body[key] = _size(text, flag)
    if ns.memory_swap:
        body["MemorySwap"] = -1 if ns.memory_swap == "-1" else _size(ns.memory_swap, "--memory-swap")
    if ns.restart:
        body["RestartPolicy"] = _restart(ns.restart)
    return body
