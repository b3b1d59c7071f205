"""The container record: its state machine, persistence, and Docker's inspect and list shapes."""

from __future__ import annotations

import enum
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from berth import errdefs
from berth.daemon.containers import logconfig
from berth.daemon.containers.spec_mounts import DEFAULT_SHM_SIZE, mount_points
from berth.util.timefmt import ZERO_TIME, from_rfc3339, human_duration, rfc3339nano

__all__ = ["TRANSITIONS", "Container", "State", "entrypoint_and_args", "start_error", "start_failure_code"]


class State(enum.Enum):
    """Docker's State.Status values."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.RUNNING, State.EXITED, State.REMOVING, State.DEAD}),
    State.RUNNING: frozenset({State.PAUSED, State.RESTARTING, State.EXITED, State.REMOVING, State.DEAD}),
    State.PAUSED: frozenset({State.RUNNING, State.EXITED, State.REMOVING, State.DEAD}),
    State.RESTARTING: frozenset({State.RUNNING, State.EXITED, State.REMOVING, State.DEAD}),
    State.EXITED: frozenset({State.RUNNING, State.RESTARTING, State.REMOVING, State.DEAD}),
    State.REMOVING: frozenset({State.CREATED, State.EXITED, State.DEAD}),
    State.DEAD: frozenset({State.REMOVING}),
}


def entrypoint_and_args(config: dict[str, Any]) -> tuple[str, list[str]]:
    """Docker's Path and Args: the entrypoint's head, then its tail followed by Cmd."""
    entrypoint = [str(a) for a in config.get("Entrypoint") or []]
    cmd = [str(a) for a in config.get("Cmd") or []]
    argv = entrypoint + cmd
    if not argv:
        return "", []
    return argv[0], argv[1:]


def start_failure_code(message: str) -> int:
    text = message.lower()
    if "no such file or directory" in text or "not found" in text:
        return 127
    if "permission denied" in text:
        return 126
    return 128


def _fill_host_config_defaults(hc: dict[str, Any]) -> None:
    """The defaults dockerd writes into HostConfig at create, so that inspect shows them."""
    if not hc.get("IpcMode"):
        hc["IpcMode"] = "private"
    if not hc.get("ShmSize") and hc["IpcMode"] in ("private", "shareable"):
        hc["ShmSize"] = DEFAULT_SHM_SIZE
    log_config = hc.get("LogConfig")
    if not isinstance(log_config, dict):
        log_config = {}
    hc["LogConfig"] = {"Type": log_config.get("Type") or "json-file", "Config": log_config.get("Config") or {}}
    if not (hc.get("RestartPolicy") or {}).get("Name"):
        hc["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}


@dataclass(slots=True, eq=False)
class Container:
    """One container as the daemon keeps it; Config and HostConfig stay Docker API dicts."""

    id: str
    name: str
    image: str
    image_id: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    root: str
    created: int
    _state: State = State.CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: int = 0
    finished_at: int = 0
    restart_count: int = 0
    manually_stopped: bool = False  # a user stopped or killed it: unless-stopped does not bring it back
    health: dict[str, Any] | None = None  # State.Health {Status, FailingStreak, Log} when it has a healthcheck
    anonymous_volumes: dict[str, str] = field(default_factory=dict)  # destination -> volume name
    inherited_binds: list[str] = field(default_factory=list)  # --volumes-from, as Binds entries
    exec_ids: list[str] = field(default_factory=list)
    networks: dict[str, Any] = field(default_factory=dict)
    ports: dict[str, Any] = field(default_factory=dict)
    sandbox_key: str = ""

    @classmethod
    def new(cls, *, cid: str, name: str, image: str, image_id: str, config: dict[str, Any],
            host_config: dict[str, Any], root: str, created: int | None = None,
            host_hostname: str | None = None) -> Container:
        """A created container; fills Docker's defaults (hostname, bridge network mode)."""
        config = dict(config)
        host_config = dict(host_config)
        mode = host_config.get("NetworkMode") or "default"
        if mode == "default":
            host_config["NetworkMode"] = "bridge"
        _fill_host_config_defaults(host_config)
        if not config.get("Hostname"):
            if mode == "host":
                config["Hostname"] = host_hostname or socket.gethostname()
            else:
                config["Hostname"] = cid[:12]
        config.setdefault("Image", image)
        return cls(id=cid, name=name.lstrip("/"), image=image, image_id=image_id, config=config,
                   host_config=host_config, root=root, created=created or time.time_ns())

    # -- state machine --------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @state.setter
    def state(self, new: State) -> None:
        if new != self._state and new not in TRANSITIONS[self._state]:
            raise errdefs.Conflict(
                f"container {self.id}: cannot change state from {self._state.value} to {new.value}"
            )
        self._state = new

    def mark_running(self, pid: int, started_at: int) -> None:
        self.state = State.RUNNING
        self.pid, self.started_at = pid, started_at
        self.exit_code, self.error, self.oom_killed = 0, "", False

    def mark_exited(self, exit_code: int, finished_at: int, oom_killed: bool = False) -> None:
        self.state = State.EXITED
        self.pid, self.exit_code, self.finished_at, self.oom_killed = 0, exit_code, finished_at, oom_killed

    def mark_start_failed(self, message: str) -> None:
        """Docker keeps the state (created, or exited after an earlier run) and records the error."""
        self.pid, self.error, self.exit_code = 0, message, start_failure_code(message)

    def mark_restarting(self) -> None:
        """Exited, and waiting for its restart policy's delay (`Restarting` in inspect)."""
        self.state = State.RESTARTING

    def mark_paused(self, paused: bool) -> None:
        self.state = State.PAUSED if paused else State.RUNNING

    @property
    def running(self) -> bool:
        return self._state in (State.RUNNING, State.PAUSED, State.RESTARTING)

    # -- paths ----------------------------------------------------------------------------------
    @property
    def log_path(self) -> str:
        return os.path.join(self.root, f"{self.id}-json.log")

    @property
    def rootfs(self) -> str:
        """Where its overlay rootfs is mounted (the OCI bundle's rootfs)."""
        return os.path.join(self.root, "bundle", "rootfs")

    def mounted_host_config(self) -> dict[str, Any]:
        """HostConfig with what it mounts besides its own Binds: the binds --volumes-from gave it."""
        if not self.inherited_binds:
            return self.host_config
        return {**self.host_config, "Binds": [*(self.host_config.get("Binds") or []), *self.inherited_binds]}

    @property
    def volumes_root(self) -> str:
        """<data-root>/volumes, beside <data-root>/containers/<id>."""
        return os.path.join(os.path.dirname(os.path.dirname(self.root)), "volumes")

    @property
    def hostname_path(self) -> str:
        return os.path.join(self.root, "hostname")

    @property
    def hosts_path(self) -> str:
        return os.path.join(self.root, "hosts")

    @property
    def resolv_conf_path(self) -> str:
        return os.path.join(self.root, "resolv.conf")

    # -- API shapes -----------------------------------------------------------------------------
    def status_text(self, now: float | None = None) -> str:
        """`docker ps` STATUS: "Up 2 minutes", "Exited (0) 3 seconds ago", "Created", ..."""
        now_s = time.time() if now is None else now
        if self._state == State.PAUSED:
            return f"Up {human_duration(now_s - self.started_at / 1e9)} (Paused)"
        if self._state == State.RESTARTING:
            return f"Restarting ({self.exit_code}) {human_duration(now_s - self.finished_at / 1e9)} ago"
        if self._state == State.RUNNING:
            up = f"Up {human_duration(now_s - self.started_at / 1e9)}"
            if self.health is not None:
                status = self.health.get("Status") or "starting"
                return f"{up} ({'health: starting' if status == 'starting' else status})"
            return up
        if self._state == State.REMOVING:
            return "Removal In Progress"
        if self._state == State.DEAD:
            return "Dead"
        if not self.started_at:
            return "Created"
        if not self.finished_at:
            return ""
        return f"Exited ({self.exit_code}) {human_duration(now_s - self.finished_at / 1e9)} ago"

    def _state_dict(self) -> dict[str, Any]:
        return {
            "Status": self._state.value,
            "Running": self.running,
            "Paused": self._state == State.PAUSED,
            "Restarting": self._state == State.RESTARTING,
            "OOMKilled": self.oom_killed,
            "Dead": self._state == State.DEAD,
            "Pid": self.pid,
            "ExitCode": self.exit_code,
            "Error": self.error,
            "StartedAt": rfc3339nano(self.started_at) if self.started_at else ZERO_TIME,
            "FinishedAt": rfc3339nano(self.finished_at) if self.finished_at else ZERO_TIME,
            **({"Health": self.health} if self.health is not None else {}),
        }

    def _network_settings(self) -> dict[str, Any]:
        bridge = self.networks.get("bridge") or {}
        return {
            "Bridge": "", "SandboxID": self.id if self.sandbox_key else "", "SandboxKey": self.sandbox_key,
            "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": dict(self.ports), "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            "EndpointID": bridge.get("EndpointID", ""), "Gateway": bridge.get("Gateway", ""),
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": bridge.get("IPAddress", ""),
            "IPPrefixLen": bridge.get("IPPrefixLen", 0), "IPv6Gateway": "",
            "MacAddress": bridge.get("MacAddress", ""), "Networks": dict(self.networks),
        }

    def to_inspect(self, graph_data: dict[str, str] | None = None) -> dict[str, Any]:
        """`GET /containers/{id}/json`."""
        path, args = entrypoint_and_args(self.config)
        return {
            "Id": self.id,
            "Created": rfc3339nano(self.created),
            "Path": path,
            "Args": args,
            "State": self._state_dict(),
            "Image": self.image_id,
            "ResolvConfPath": self.resolv_conf_path,
            "HostnamePath": self.hostname_path,
            "HostsPath": self.hosts_path,
            "LogPath": self.log_path if logconfig.driver(self.host_config) != "none" else "",
            "Name": f"/{self.name}",
            "RestartCount": self.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": list(self.exec_ids) or None,
            "HostConfig": self.host_config,
            "GraphDriver": {"Name": "overlay2", "Data": graph_data},
            "Mounts": mount_points(self.mounted_host_config(), self.anonymous_volumes, self.volumes_root),
            "Config": self.config,
            "NetworkSettings": self._network_settings(),
        }

    def to_summary(self, now: float | None = None) -> dict[str, Any]:
        """One entry of `GET /containers/json`."""
        path, args = entrypoint_and_args(self.config)
        return {
            "Id": self.id,
            "Names": [f"/{self.name}"],
            "Image": self.image,
            "ImageID": self.image_id,
            "Command": " ".join([path, *(f"'{a}'" if " " in a else a for a in args)]) if args else path,
            "Created": self.created // 1_000_000_000,
            "Ports": summary_ports(self.ports),
            "Labels": dict(self.config.get("Labels") or {}),
            "State": self._state.value,
            "Status": self.status_text(now),
            "HostConfig": {"NetworkMode": self.host_config.get("NetworkMode") or "bridge"},
            "NetworkSettings": {"Networks": dict(self.networks)},
            "Mounts": mount_points(self.mounted_host_config(), self.anonymous_volumes, self.volumes_root),
        }

    # -- persistence ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The record written to config.v2.json."""
        return {
            "ID": self.id, "Name": f"/{self.name}", "Image": self.image, "ImageID": self.image_id,
            "Created": rfc3339nano(self.created), "State": self._state_dict(),
            "RestartCount": self.restart_count, "HasBeenManuallyStopped": self.manually_stopped,
            "AnonymousVolumes": self.anonymous_volumes, "InheritedBinds": self.inherited_binds,
            "Config": self.config, "HostConfig": self.host_config, "Networks": self.networks,
            "Ports": self.ports, "SandboxKey": self.sandbox_key,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], root: str) -> Container:
        """The inverse of to_json; `root` is the container's directory."""
        st = data["State"]
        return cls(
            id=str(data["ID"]), name=str(data["Name"]).lstrip("/"), image=str(data["Image"]),
            image_id=str(data["ImageID"]), config=dict(data["Config"]), host_config=dict(data["HostConfig"]),
            root=root, created=from_rfc3339(data["Created"]), _state=State(st["Status"]),
            pid=int(st.get("Pid") or 0), exit_code=int(st.get("ExitCode") or 0),
            error=str(st.get("Error") or ""),
            oom_killed=bool(st.get("OOMKilled")), started_at=from_rfc3339(st.get("StartedAt") or ZERO_TIME),
            finished_at=from_rfc3339(st.get("FinishedAt") or ZERO_TIME),
            restart_count=int(data.get("RestartCount") or 0),
            manually_stopped=bool(data.get("HasBeenManuallyStopped")),
            health=dict(st["Health"]) if isinstance(st.get("Health"), dict) else None,
            anonymous_volumes=dict(data.get("AnonymousVolumes") or {}),
            inherited_binds=[str(b) for b in data.get("InheritedBinds") or []],
            networks=dict(data.get("Networks") or {}), ports=dict(data.get("Ports") or {}),
            sandbox_key=str(data.get("SandboxKey") or ""),
        )


def summary_ports(ports: dict[str, Any]) -> list[dict[str, Any]]:
    """`ps` Ports from NetworkSettings.Ports: one entry per binding, or the bare exposed port."""
    out: list[dict[str, Any]] = []
    for key, bindings in ports.items():
        port, _, proto = key.partition("/")
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
            continue
        for b in bindings:
            out.append({"IP": b.get("HostIp") or "0.0.0.0", "PrivatePort": int(port),
                        "PublicPort": int(b.get("HostPort") or 0), "Type": proto or "tcp"})
    return out


def start_error(exc: Exception, config: dict[str, Any]) -> errdefs.BerthError:
    """As dockerd words a failed start: a command that cannot be found or run, or a mount onto the wrong kind of
    path, is the request's fault (400); anything else is the engine's (500)."""
    if isinstance(exc, errdefs.BerthError):
        return exc
    message = f"failed to create task for container: {exc}"
    low = message.lower()
    argv = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    if argv and str(argv[0]).lower() in low and (
            "executable file not found" in low or "no such file or directory" in low):
        return errdefs.InvalidParameter(message)
    if "permission denied" in low:
        return errdefs.InvalidParameter(message)
    if "not a directory" in low:
        return errdefs.InvalidParameter(message + ": Are you trying to mount a directory onto a file (or vice-versa)? "
                                        "Check if the specified host path exists and is the expected type")
    return errdefs.System(message)
