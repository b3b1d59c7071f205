"""Daemon configuration: berthd flags merged over daemon.json, with dockerd's names where they apply."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field

from berth import errdefs

__all__ = ["DaemonConfig", "parse_args"]

DEFAULT_CONFIG_FILE = "/etc/berth/daemon.json"


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """Everything berthd needs to know to start; immutable once parsed."""

    hosts: tuple[str, ...] = ("unix:///run/berth/berth.sock",)
    data_root: str = "/var/lib/berth"
    exec_root: str = "/run/berth"
    pidfile: str = ""
    debug: bool = False
    log_file: str = ""
    storage_driver: str = "overlay2"
    cgroup_parent: str = "berth"
    runtime: tuple[str, ...] = ()
    init_path: str = "/usr/bin/tini-static"
    labels: tuple[str, ...] = ()
    userns_remap: str = ""
    bridge: str = "berth0"
    bip: str = ""
    nft_table: str = "berth"
    insecure_registries: tuple[str, ...] = ()
    registry_mirrors: tuple[str, ...] = ()
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    group: str = "berth"
    shim_idle_after: float = 5.0  # an idle container's shim worker hands over to its keeper (0: never)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def runtime_root(self) -> str:
        return os.path.join(self.exec_root, "runtime")

    @property
    def shims_root(self) -> str:
        return os.path.join(self.exec_root, "shims")

    @property
    def socket_paths(self) -> list[str]:
        return [h.removeprefix("unix://") for h in self.hosts if h.startswith("unix://")]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="berthd", description="The Berth container engine daemon")
    p.add_argument("-H", "--host", action="append", default=None, help="listen on unix://PATH")
    p.add_argument("--data-root", default=None, help="root of persistent state (default /var/lib/berth)")
    p.add_argument("--exec-root", default=None, help="root of runtime state and the socket (default /run/berth)")
    p.add_argument("-p", "--pidfile", default=None, help="write the daemon's pid here")
    p.add_argument("-D", "--debug", action="store_true", default=None, help="debug logging")
    p.add_argument("--log-file", default=None, help="log to this file instead of stderr")
    p.add_argument("--config-file", default=None, help=f"daemon.json (default {DEFAULT_CONFIG_FILE})")
    p.add_argument("-s", "--storage-driver", default=None, help="storage driver (overlay2)")
    p.add_argument("--cgroup-parent", default=None, help="parent cgroup of containers (default berth)")
    p.add_argument("--runtime", default=None, help="OCI runtime command (default: berth-runtime)")
    p.add_argument("--init-path", default=None, help="init binary for --init (default /usr/bin/tini-static)")
    p.add_argument("-G", "--group", default=None,
                   help='group owning the unix socket (default "berth"; "" leaves it root\'s)')
    p.add_argument("--label", action="append", default=None, help="daemon label key=value")
    p.add_argument("--userns-remap", default=None,
                   help="map container root to the ranges of default|user[:group] in /etc/subuid, /etc/subgid")
    p.add_argument("-b", "--bridge", default=None, help="the default bridge's interface (none: no bridge)")
    p.add_argument("--bip", default=None, help="the default bridge's address and prefix (default: a free /16)")
    p.add_argument("--nft-table", default=None, help="name of Berth's nftables table (default berth)")
    p.add_argument("--insecure-registry", action="append", default=None, help="plain-HTTP registry (host or CIDR)")
    p.add_argument("--registry-mirror", action="append", default=None, help="preferred Docker Hub mirror")
    p.add_argument("--max-concurrent-downloads", type=int, default=None, help="parallel layer downloads (3)")
    p.add_argument("--max-concurrent-uploads", type=int, default=None, help="parallel layer uploads (5)")
    p.add_argument("--shim-idle-after", type=float, default=None,
                   help="seconds after which an idle container's shim sheds its worker (default 5, 0: never)")
    p.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    return p


_FILE_KEYS = {
    "hosts": "hosts",
    "data-root": "data_root",
    "exec-root": "exec_root",
    "pidfile": "pidfile",
    "debug": "debug",
    "log-file": "log_file",
    "storage-driver": "storage_driver",
    "cgroup-parent": "cgroup_parent",
    "labels": "labels",
    "init-path": "init_path",
    "userns-remap": "userns_remap",
    "bridge": "bridge",
    "bip": "bip",
    "nft-table": "nft_table",
    "insecure-registries": "insecure_registries",
    "registry-mirrors": "registry_mirrors",
    "max-concurrent-downloads": "max_concurrent_downloads",
    "max-concurrent-uploads": "max_concurrent_uploads",
    "group": "group",
    "shim-idle-after": "shim_idle_after",
}


def _read_file(path: str, required: bool) -> dict[str, object]:
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        if required:
            raise errdefs.InvalidParameter(f"unable to configure the daemon: open {path}: no such file") from None
        return {}
    except ValueError as exc:
        raise errdefs.InvalidParameter(f"unable to configure the daemon with file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise errdefs.InvalidParameter(f"unable to configure the daemon with file {path}: not a JSON object")
    return data


def parse_args(argv: list[str]) -> tuple[DaemonConfig, bool]:
    """Parse berthd's command line (and daemon.json); returns the config and whether --version was asked."""
    ns = _parser().parse_args(argv)
    file_path = ns.config_file or DEFAULT_CONFIG_FILE
    values: dict[str, object] = {}
    extra: dict[str, object] = {}
    for key, value in _read_file(file_path, required=ns.config_file is not None).items():
        if key in _FILE_KEYS:
            values[_FILE_KEYS[key]] = tuple(value) if isinstance(value, list) else value
        else:
            extra[key] = value
    flag_keys = ("data_root", "exec_root", "pidfile", "debug", "log_file", "storage_driver", "cgroup_parent",
                 "init_path", "userns_remap", "bridge", "bip", "nft_table", "max_concurrent_downloads",
                 "max_concurrent_uploads", "group", "shim_idle_after")
    for key in flag_keys:
        flag = getattr(ns, key)
        if flag is not None:
            values[key] = flag
    if ns.host:
        values["hosts"] = tuple(ns.host)
    if ns.label:
        values["labels"] = tuple(ns.label)
    if ns.insecure_registry:
        values["insecure_registries"] = tuple(ns.insecure_registry)
    if ns.registry_mirror:
        values["registry_mirrors"] = tuple(ns.registry_mirror)
    for key in ("max_concurrent_downloads", "max_concurrent_uploads"):
        if key in values and (not isinstance(values[key], int) or int(str(values[key])) < 1):
            raise errdefs.InvalidParameter(f"invalid {key.replace('_', '-')}: {values[key]} (must be at least 1)")
    idle = values.get("shim_idle_after", 5.0)
    if isinstance(idle, bool) or not isinstance(idle, int | float) or idle < 0:
        raise errdefs.InvalidParameter(f"invalid shim-idle-after: {idle} (must be a number of seconds, 0 or more)")
    if ns.runtime:
        values["runtime"] = tuple(ns.runtime.split())
    exec_root = str(values.get("exec_root", "/run/berth"))
    if "hosts" not in values:
        values["hosts"] = (f"unix://{exec_root}/berth.sock",)
    hosts = values["hosts"]
    assert isinstance(hosts, tuple)
    for h in hosts:
        if not str(h).startswith("unix://"):
            raise errdefs.InvalidParameter(f"invalid host {h!r}: only unix://PATH listeners are supported")
    if values.get("storage_driver", "overlay2") not in ("overlay2", "overlay"):
        raise errdefs.InvalidParameter(f"unsupported storage driver: {values['storage_driver']}")
    return DaemonConfig(extra=extra, **values), bool(ns.version)  # type: ignore[arg-type]
