"""The container's Config at create (image defaults merged, validated) and its OCI config.json at start."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from berth import errdefs
from berth.daemon.containers import spec_linux as lx
from berth.daemon.containers import spec_mounts as mnt
from berth.daemon.containers import spec_seccomp
from berth.daemon.containers.signals import parse_signal
from berth.daemon.containers.spec_linux import all_capabilities
from berth.daemon.containers.users import ResolvedUser
from berth.kernel.caps import CAP_NAMES
from berth.util.atomic import write_json_atomic
from berth.util.idmap import IdMap
from berth.util.portspec import PortSpecError, check_port_bindings

if TYPE_CHECKING:
    from berth.daemon.containers.model import Container

__all__ = [
    "DEFAULT_PATH", "DOCKER_NET_SYSCTLS", "INIT_IN_CONTAINER", "KNOWN_CAPS", "OCI_VERSION", "all_capabilities", "build",
    "build_env", "build_spec", "merge_image_config", "security_options", "validate", "validate_resources",
    "validate_restart_policy", "write",
]

OCI_VERSION = "1.2.0"
RUNTIME_NAME = "berth-runtime"  # the one runtime berthd offers (docker info's Runtimes)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_IN_CONTAINER = "/sbin/docker-init"
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
_CONFIG_KEYS = (
    "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty",
    "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir",
    "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell",
)
DOCKER_NET_SYSCTLS = {"net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "0"}
KNOWN_CAPS: tuple[str, ...] = tuple(f"CAP_{n}" for n in CAP_NAMES)
_RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
_CPUSET = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*", re.ASCII)  # "0-2,4": the cpuset list format
_GO_BOOLS = {**dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
             **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False)}  # Go's strconv.ParseBool


# -- create time --------------------------------------------------------------------------------
def merge_image_config(body: Mapping[str, Any], image_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Docker's Config from a create body and the image's config (daemon `merge`)."""
    img = dict(image_config or {})
    if isinstance(img.get("config"), dict):
        img = img["config"]
    user = {k: body[k] for k in _CONFIG_KEYS if k in body}
    cfg: dict[str, Any] = {
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
        "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
        "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": {},
    }
    cfg.update(user)
    for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"):
        cfg[key] = bool(cfg.get(key))
    for key in ("Hostname", "Domainname", "User", "Image", "WorkingDir"):
        cfg[key] = str(cfg.get(key) or "")
    entrypoint = cfg.get("Entrypoint")
    if isinstance(entrypoint, str):
        entrypoint = [entrypoint]
    if entrypoint == [""]:
        entrypoint = []
    cfg["Entrypoint"] = entrypoint
    if isinstance(cfg.get("Cmd"), str):
        cfg["Cmd"] = [cfg["Cmd"]]
    if not cfg["User"]:
        cfg["User"] = img.get("User") or ""
    cfg["Env"] = _merge_env(cfg.get("Env") or [], img.get("Env") or [])
    ports = dict(img.get("ExposedPorts") or {})
    ports.update(cfg.get("ExposedPorts") or {})
    bindings = (body.get("HostConfig") or {}).get("PortBindings") or {}
    for key in bindings if isinstance(bindings, dict) else ():  # a published port is exposed (as dockerd)
        ports.setdefault(key if "/" in key else f"{key}/tcp", {})
    if ports:
        cfg["ExposedPorts"] = ports
    labels = dict(img.get("Labels") or {})
    labels.update(cfg.get("Labels") or {})
    cfg["Labels"] = labels
    if not entrypoint:
        if not cfg.get("Cmd"):
            cfg["Cmd"] = img.get("Cmd")
        if entrypoint is None:
            cfg["Entrypoint"] = img.get("Entrypoint")
    if not cfg["WorkingDir"]:
        cfg["WorkingDir"] = img.get("WorkingDir") or ""
    volumes = dict(img.get("Volumes") or {})
    volumes.update(cfg.get("Volumes") or {})
    cfg["Volumes"] = volumes or None
    if not cfg.get("StopSignal") and img.get("StopSignal"):
        cfg["StopSignal"] = img["StopSignal"]
    if "Healthcheck" not in cfg and img.get("Healthcheck"):
        cfg["Healthcheck"] = img["Healthcheck"]
    if "OnBuild" in img and cfg["OnBuild"] is None:
        cfg["OnBuild"] = img.get("OnBuild")
    return cfg


def _merge_env(user_env: Sequence[str], image_env: Sequence[str]) -> list[str]:
    keys = {e.split("=", 1)[0] for e in user_env}
    return list(user_env) + [e for e in image_env if e.split("=", 1)[0] not in keys]


def security_options(opts: Sequence[str]) -> dict[str, Any]:
    """Parse SecurityOpt: no-new-privileges, seccomp=unconfined|<json>, apparmor=, label=."""
    out: dict[str, Any] = {"no_new_privileges": False, "seccomp": None}
    for opt in opts:
        if opt == "no-new-privileges":
            out["no_new_privileges"] = True
            continue
        if opt in ("writable-cgroups", "disable"):
            continue
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if not sep:
            raise errdefs.InvalidParameter(f'invalid --security-opt 1: "{opt}"')
        if key == "no-new-privileges":
            if value not in _GO_BOOLS:
                raise errdefs.InvalidParameter(f'invalid --security-opt 2: "{opt}"')
            out["no_new_privileges"] = _GO_BOOLS[value]
        elif key == "seccomp":
            out["seccomp"] = value
        elif key not in ("apparmor", "label", "systempaths", "writable-cgroups"):
            raise errdefs.InvalidParameter(f'invalid --security-opt 2: "{opt}"')
    return out


def _validate_modes(hc: Mapping[str, Any]) -> None:
    ipc = str(hc.get("IpcMode") or "")
    if ipc not in ("", "private", "shareable", "host", "none") and not ipc.startswith("container:"):
        raise errdefs.InvalidParameter(f"invalid IPC mode: {ipc}")
    pid = str(hc.get("PidMode") or "")
    if pid not in ("", "host") and not pid.startswith("container:"):
        raise errdefs.InvalidParameter(f"invalid PID mode: {pid}")
    uts = str(hc.get("UTSMode") or "")
    if uts not in ("", "host"):
        raise errdefs.InvalidParameter(f"invalid UTS mode: {uts}")
    userns = str(hc.get("UsernsMode") or "")
    if userns not in ("", "host"):
        raise errdefs.InvalidParameter(f"invalid USER mode: {userns}")
    cgroupns = str(hc.get("CgroupnsMode") or "")
    if cgroupns not in ("", "private", "host"):
        raise errdefs.InvalidParameter(f"invalid cgroup namespace mode: {cgroupns}")
    isolation = str(hc.get("Isolation") or "")
    if isolation not in ("", "default"):
        raise errdefs.InvalidParameter(f'Invalid isolation: "{isolation}" - linux only supports \'default\'')
    if hc.get("NetworkMode") == "host" and hc.get("Dns"):
        raise errdefs.InvalidParameter("conflicting options: dns and the network mode")
    validate_restart_policy(hc)
    policy = (hc.get("RestartPolicy") or {}).get("Name") or ""
    if hc.get("AutoRemove") and policy not in ("", "no"):
        raise errdefs.InvalidParameter("can't create 'AutoRemove' container with restart policy")


def validate_restart_policy(hc: Mapping[str, Any]) -> None:
    """The restart policy's name and count, as dockerd checks them at create and update."""
    policy = hc.get("RestartPolicy") or {}
    name = policy.get("Name") or ""
    if name not in _RESTART_POLICIES:
        raise errdefs.InvalidParameter(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', "
            "or 'unless-stopped'"
        )
    count = int(policy.get("MaximumRetryCount") or 0)
    if name == "on-failure" and count < 0:
        raise errdefs.InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    if name in ("always", "unless-stopped", "no") and count:
        raise errdefs.InvalidParameter("invalid restart policy: maximum retry count can only be used with "
                                       f"'on-failure'{' and cannot be negative' if count < 0 else ''}")


def _validate_healthcheck(hc: Mapping[str, Any]) -> None:
    """dockerd's create-time checks of a healthcheck's durations (nanoseconds) and retries."""
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        value = int(hc.get(key) or 0)
        if value and value < 1_000_000:
            raise errdefs.InvalidParameter(f"{key} in Healthcheck cannot be less than 1ms")
    if int(hc.get("Retries") or 0) < 0:
        raise errdefs.InvalidParameter("Retries in Healthcheck cannot be negative")


def validate_resources(hc: Mapping[str, Any]) -> None:
    """The cgroup limits of HostConfig, as dockerd checks them at create and update."""
    memory = int(hc.get("Memory") or 0)
    if memory and memory < 6 * 1024 * 1024:
        raise errdefs.InvalidParameter("Minimum memory limit allowed is 6MB")
    swap = int(hc.get("MemorySwap") or 0)
    if memory > 0 and 0 < swap < memory:
        raise errdefs.InvalidParameter(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if hc.get("NanoCpus") and hc.get("CpuPeriod"):
        raise errdefs.InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if hc.get("NanoCpus") and hc.get("CpuQuota"):
        raise errdefs.InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    cpus = len(os.sched_getaffinity(0))  # as Go's runtime.NumCPU
    if not 0 <= int(hc.get("NanoCpus") or 0) <= cpus * 1_000_000_000:
        raise errdefs.InvalidParameter(
            f"Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available")
    shares = int(hc.get("CpuShares") or 0)
    if shares < 0:
        raise errdefs.InvalidParameter(f"invalid CPU shares ({shares}): value must be a positive integer")
    period = int(hc.get("CpuPeriod") or 0)
    if period and not 1000 <= period <= 1_000_000:
        raise errdefs.InvalidParameter(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if 0 < int(hc.get("CpuQuota") or 0) < 1000:
        raise errdefs.InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    weight = int(hc.get("BlkioWeight") or 0)
    if weight and not 10 <= weight <= 1000:
        raise errdefs.InvalidParameter("Range of blkio weight is from 10 to 1000")
    for key, what in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        if hc.get(key) and not _CPUSET.fullmatch(str(hc[key])):
            raise errdefs.InvalidParameter(f"Invalid value {hc[key]} for cpuset {what}")
    if int(hc.get("ShmSize") or 0) < 0:
        raise errdefs.InvalidParameter("SHM size can not be less than 0")
    oom = int(hc.get("OomScoreAdj") or 0)
    if not -1000 <= oom <= 1000:
        raise errdefs.InvalidParameter(f"Invalid value {oom}, range for oom score adj is [-1000, 1000]")


def remapped(host_config: Mapping[str, Any], idmap: IdMap | None) -> IdMap | None:
    """The daemon's --userns-remap map, unless the container opts out with --userns=host."""
    return None if idmap is None or host_config.get("UsernsMode") == "host" else idmap


def validate(config: Mapping[str, Any], host_config: Mapping[str, Any], idmap: IdMap | None = None) -> None:
    """Docker's create-time checks, with docker's texts (InvalidParameter)."""
    if host_config.get("Privileged") and remapped(host_config, idmap) is not None:
        raise errdefs.InvalidParameter(
            "privileged mode is incompatible with user namespaces.  You must run the container in the host "
            "namespace when running privileged mode")
    if not (config.get("Entrypoint") or config.get("Cmd")):
        raise errdefs.InvalidParameter("No command specified")
    if config.get("StopSignal"):
        parse_signal(str(config["StopSignal"]))
    _validate_healthcheck(config.get("Healthcheck") or {})
    if host_config.get("Runtime") not in (None, "", RUNTIME_NAME):
        raise errdefs.InvalidParameter(f"Unknown runtime specified {host_config['Runtime']}")
    workdir = config.get("WorkingDir") or ""
    if workdir and not workdir.startswith("/"):
        raise errdefs.InvalidParameter(
            f"the working directory '{workdir}' is invalid, it needs to be an absolute path"
        )
    lx.normalize_caps(host_config.get("CapAdd") or [], "CapAdd", KNOWN_CAPS)
    lx.normalize_caps(host_config.get("CapDrop") or [], "CapDrop", KNOWN_CAPS)
    for bind in host_config.get("Binds") or []:
        mnt.parse_bind(bind)
    mnt.tmpfs_mounts(host_config.get("Tmpfs") or {})
    mnt.check_duplicates(host_config)
    mnt.check_bind_sources(host_config.get("Mounts") or [])
    lx.validate_sysctls(host_config.get("Sysctls") or {}, host_config)
    lx.rlimits(host_config.get("Ulimits") or [])
    lx.check_rlimits_grantable(host_config.get("Ulimits") or [])
    if not host_config.get("Privileged"):
        lx.custom_devices(host_config.get("Devices") or [], lx.stat_device)
    lx.device_cgroup_rules(host_config.get("DeviceCgroupRules") or [])
    security_options(host_config.get("SecurityOpt") or [])
    caps = lx.tweak_capabilities(host_config.get("CapAdd") or [], host_config.get("CapDrop") or [],
                                 bool(host_config.get("Privileged")), KNOWN_CAPS)
    spec_seccomp.validate(host_config, caps)
    _validate_modes(host_config)
    validate_resources(host_config)
    bindings = host_config.get("PortBindings") or {}
    if not isinstance(bindings, Mapping):
        raise errdefs.InvalidParameter("invalid PortBindings: expected an object")
    try:
        check_port_bindings(bindings)
    except PortSpecError as exc:
        raise errdefs.InvalidParameter(str(exc)) from None


# -- start time ---------------------------------------------------------------------------------
def build_env(config: Mapping[str, Any], home: str) -> list[str]:
    """PATH, HOSTNAME, TERM (tty) then Config.Env replacing same keys; HOME when still missing."""
    env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={config.get('Hostname') or ''}"]
    if config.get("Tty"):
        env.append("TERM=xterm")
    index = {e.split("=", 1)[0]: i for i, e in enumerate(env)}
    removed: set[str] = set()
    for item in config.get("Env") or []:
        key, sep, _ = item.partition("=")
        if not sep:
            removed.add(key)
        elif key in index:
            env[index[key]] = item
        else:
            index[key] = len(env)
            env.append(item)
    env = [e for e in env if e.split("=", 1)[0] not in removed]
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={home}")
    return env


def _process(config: Mapping[str, Any], hc: Mapping[str, Any], user: ResolvedUser, caps: list[str],
             init: bool, no_new_privileges: bool) -> dict[str, Any]:
    argv = [str(a) for a in (config.get("Entrypoint") or []) + (config.get("Cmd") or [])]
    if init:
        argv = [INIT_IN_CONTAINER, "--", *argv]
    proc: dict[str, Any] = {"terminal": bool(config.get("Tty"))}
    size = hc.get("ConsoleSize") or [0, 0]
    if config.get("Tty") and len(size) == 2 and (size[0] or size[1]):
        proc["consoleSize"] = {"height": int(size[0]), "width": int(size[1])}
    proc.update({
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": list(user.additional_gids)},
        "args": argv,
        "env": build_env(config, user.home),
        "cwd": config.get("WorkingDir") or "/",
        # moby sets no effective/permitted caps for a non-root user (what execve would leave anyway)
        "capabilities": ({"bounding": caps, "effective": list(caps), "permitted": list(caps)} if user.uid == 0
                         else {"bounding": caps}),
    })
    limits = lx.rlimits(hc.get("Ulimits") or [])
    if limits:
        proc["rlimits"] = limits
    proc["noNewPrivileges"] = no_new_privileges
    proc["oomScoreAdj"] = int(hc.get("OomScoreAdj") or 0)
    return proc


def _mounts(hc: Mapping[str, Any], etc_files: Mapping[str, str], privileged: bool,
            volume_paths: Mapping[str, str], init_path: str | None) -> list[dict[str, Any]]:
    shm = int(hc.get("ShmSize") or 0) or mnt.DEFAULT_SHM_SIZE
    defaults = mnt.default_mounts(shm, str(hc.get("IpcMode") or ""))
    if privileged:
        for m in defaults:
            if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                m["options"] = [o for o in m["options"] if o != "ro"]
    own = (mnt.bind_mounts(hc.get("Binds") or [], volume_paths) + mnt.tmpfs_mounts(hc.get("Tmpfs") or {})
           + mnt.api_mounts(hc.get("Mounts") or [], volume_paths))
    taken = {m["destination"] for m in own}
    etc_opts = ["rbind", "ro", "rprivate"] if hc.get("ReadonlyRootfs") else ["rbind", "rprivate"]
    for dest, source in etc_files.items():
        if dest not in taken:
            own.append({"destination": dest, "type": "bind", "source": source, "options": list(etc_opts)})
    mounts = [m for m in defaults if m["destination"] not in taken] + mnt.sort_by_depth(own)
    if init_path is not None:
        mounts.append({"destination": INIT_IN_CONTAINER, "type": "bind", "source": init_path,
                       "options": ["bind", "ro"]})
    return mounts


def build_spec(
    config: Mapping[str, Any],
    host_config: Mapping[str, Any],
    *,
    user: ResolvedUser,
    rootfs: str,
    cgroups_path: str,
    etc_files: Mapping[str, str],
    init_path: str | None = None,
    seccomp: Mapping[str, Any] | None = None,
    known_caps: Sequence[str] = KNOWN_CAPS,
    thermal_paths: Sequence[str] = (),
    host_devices: Sequence[Mapping[str, Any]] = (),
    ns_paths: Mapping[str, str] | None = None,
    volume_paths: Mapping[str, str] | None = None,
    stat_device: Callable[[str], lx.DeviceStat] = lx.stat_device,
    net_sysctls: Mapping[str, str] | None = None,
    idmap: IdMap | None = None,
) -> dict[str, Any]:
    """The OCI runtime config for a container; pure given its inputs.

    `etc_files` maps /etc/hostname, /etc/hosts, /etc/resolv.conf to host files; `thermal_paths` are the
    host's /sys/devices/system/cpu/cpu*/thermal_throttle (masked); `host_devices` are OCI device entries
    given to privileged containers; `net_sysctls` are set in a container's own network namespace
    (default: docker's unprivileged ping and low ports); `idmap` (--userns-remap) puts the container in a user
    namespace of its own unless it asked for --userns=host.
    """
    hc = host_config
    privileged = bool(hc.get("Privileged"))
    sec = security_options(hc.get("SecurityOpt") or [])
    init = bool(hc.get("Init"))
    if init and init_path is None:
        raise errdefs.System("--init was requested but no init binary is configured")
    caps = lx.tweak_capabilities(hc.get("CapAdd") or [], hc.get("CapDrop") or [], privileged, known_caps)
    nodes, rules = lx.custom_devices(hc.get("Devices") or [], stat_device)
    linux: dict[str, Any] = {"namespaces": lx.namespaces(hc, ns_paths or {})}
    resources = lx.resources(hc)
    if privileged:
        linux["devices"] = [dict(d) for d in host_devices]
        resources["devices"] = [{"allow": True, "access": "rwm"}]
    else:
        linux["devices"] = nodes
        resources["devices"] = ([dict(r) for r in lx.DEFAULT_DEVICE_RULES] + rules
                                + lx.device_cgroup_rules(hc.get("DeviceCgroupRules") or []))
    userns = remapped(hc, idmap)
    if userns is not None:
        linux["namespaces"].append({"type": "user"})
        linux.update(userns.spec())
    linux["cgroupsPath"] = cgroups_path
    linux["resources"] = resources
    sysctls = dict(hc.get("Sysctls") or {})
    net_mode = str(hc.get("NetworkMode") or "")
    if net_mode != "host" and not net_mode.startswith("container:"):
        defaults = dict(DOCKER_NET_SYSCTLS if net_sysctls is None else net_sysctls)
        if userns is not None:  # its gid range is wider than what the namespace maps
            defaults.pop("net.ipv4.ping_group_range", None)
        sysctls = {**defaults, **sysctls}
    if sysctls:
        linux["sysctl"] = sysctls
    linux["maskedPaths"] = [] if privileged else [*MASKED_PATHS, *thermal_paths]
    linux["readonlyPaths"] = [] if privileged else list(READONLY_PATHS)
    if seccomp is not None and not privileged and sec["seccomp"] != "unconfined":
        linux["seccomp"] = dict(seccomp)
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": _process(config, hc, user, caps, init, bool(sec["no_new_privileges"])),
        "root": {"path": rootfs, "readonly": bool(hc.get("ReadonlyRootfs"))},
    }
    if hc.get("UTSMode") != "host":
        spec["hostname"] = config.get("Hostname") or ""
        if config.get("Domainname"):
            spec["domainname"] = config["Domainname"]
    spec["mounts"] = _mounts(hc, etc_files, privileged, volume_paths or {}, init_path if init else None)
    spec["linux"] = linux
    return spec


def _host_net_sysctls() -> dict[str, str]:
    """Docker's network sysctls this host supports (no ping range inside a user namespace)."""
    out = dict(DOCKER_NET_SYSCTLS)
    try:
        with open("/proc/self/uid_map") as f:
            if f.read().split() != ["0", "0", "4294967295"]:
                out.pop("net.ipv4.ping_group_range")
    except OSError:
        pass
    if not os.path.exists("/proc/sys/net/ipv4/ip_unprivileged_port_start"):
        out.pop("net.ipv4.ip_unprivileged_port_start")
    return out


def _host_thermal_paths() -> list[str]:
    return sorted(glob.glob("/sys/devices/system/cpu/cpu*/thermal_throttle"))


def build(c: Container, *, user: ResolvedUser, rootfs: str, cgroups_path: str, init_path: str | None = None,
          seccomp: Mapping[str, Any] | None = None, ns_paths: Mapping[str, str] | None = None,
          volume_paths: Mapping[str, str] | None = None, idmap: IdMap | None = None) -> dict[str, Any]:
    """build_spec for a container record, with this host's capabilities and masked thermal paths; its anonymous
    volumes are mounted as named ones at their destinations."""
    etc = {"/etc/resolv.conf": c.resolv_conf_path, "/etc/hostname": c.hostname_path,
           "/etc/hosts": c.hosts_path}
    hc = c.mounted_host_config()
    if c.anonymous_volumes:
        hc = {**hc, "Binds": [*(hc.get("Binds") or []), *(f"{n}:{d}" for d, n in c.anonymous_volumes.items())],
              "Mounts": [m for m in hc.get("Mounts") or []
                         if not (m.get("Type") == "volume" and not m.get("Source"))] or None}
    oci = build_spec(
        c.config, hc, user=user, rootfs=rootfs, cgroups_path=cgroups_path, etc_files=etc,
        init_path=init_path, seccomp=seccomp, known_caps=all_capabilities(),
        thermal_paths=_host_thermal_paths(), ns_paths=ns_paths, volume_paths=volume_paths,
        host_devices=lx.host_devices() if hc.get("Privileged") else (),
        net_sysctls=_host_net_sysctls(), idmap=idmap,
    )
    if seccomp is None:
        spec_seccomp.apply(oci, hc)
    return oci


def write(bundle: str, spec: Mapping[str, Any]) -> None:
    """Write `bundle`/config.json atomically."""
    os.makedirs(bundle, exist_ok=True)
    write_json_atomic(os.path.join(bundle, "config.json"), dict(spec), 0o600, durable=False)  # made anew at each start
