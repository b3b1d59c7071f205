"""System routes: /_ping, /version, /info, /events, /system/df (POST /auth lives with the image routes)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from berth import __version__, errdefs
from berth.api.backends import EngineFacts, EventSubscription, SystemBackend
from berth.api.http.request import Request
from berth.api.http.responses import JSONResponse, RawResponse, Response, StreamResponse
from berth.api.http.router import Route
from berth.api.middleware import API_VERSION, MIN_API
from berth.api.routes import hostinfo
from berth.api.streams import json_line
from berth.util.timefmt import now_ns, parse_since, rfc3339nano

__all__ = ["PING_HEADERS", "info_body", "routes", "version_body"]

PING_HEADERS = [
    ("Builder-Version", "1"),
    ("Swarm", "inactive"),
    ("Cache-Control", "no-cache, no-store, must-revalidate"),
    ("Pragma", "no-cache"),
]
_BUILD_TIME = rfc3339nano(int(os.path.getmtime(__file__) * 1e9))


DF_TYPES = ("container", "image", "volume", "build-cache")


def version_body() -> dict[str, Any]:
    details = {
        "ApiVersion": API_VERSION,
        "Arch": hostinfo.go_arch(),
        "BuildTime": _BUILD_TIME,
        "Experimental": "false",
        "GitCommit": "berth",
        "GoVersion": hostinfo.python_version(),
        "KernelVersion": hostinfo.kernel_version(),
        "MinAPIVersion": MIN_API,
        "Os": "linux",
    }
    return {
        "Platform": {"Name": "Berth Engine"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API,
        "GitCommit": "berth",
        "GoVersion": hostinfo.python_version(),
        "Os": "linux",
        "Arch": hostinfo.go_arch(),
        "KernelVersion": hostinfo.kernel_version(),
        "BuildTime": _BUILD_TIME,
    }


def _driver_status(facts: EngineFacts) -> list[list[str]]:
    return [
        ["Backing Filesystem", hostinfo.backing_filesystem(facts.data_root)],
        ["Supports d_type", "true"],
        ["Using metacopy", "false"],
        ["Native Overlay Diff", "true"],
        ["userxattr", "false"],
    ]


def _security_options(cgroup_version: str, seccomp_profile: str, userns: bool) -> list[str]:
    """What containers really get: seccomp only when the daemon applies a profile."""
    opts = [f"name=seccomp,profile={seccomp_profile}"] if seccomp_profile else []
    if userns:
        opts.append("name=userns")
    if cgroup_version == "2":
        opts.append("name=cgroupns")
    return opts


def info_body(backend: SystemBackend) -> dict[str, Any]:
    facts = backend.engine_facts()
    counts = backend.container_counts()
    release = hostinfo.os_release()
    cgv = hostinfo.cgroup_version()
    commit = {"ID": "", "Expected": ""}
    return {
        "ID": facts.id,
        "Containers": counts.total,
        "ContainersRunning": counts.running,
        "ContainersPaused": counts.paused,
        "ContainersStopped": counts.stopped,
        "Images": backend.image_count(),
        "Driver": facts.storage_driver,
        "DriverStatus": _driver_status(facts),
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "null"],
            "Authorization": None,
            "Log": [facts.logging_driver],
        },
        "MemoryLimit": True,
        "SwapLimit": True,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "IPv4Forwarding": hostinfo.ipv4_forwarding(),
        "BridgeNfIptables": False,
        "BridgeNfIp6tables": False,
        "Debug": facts.debug,
        "NFd": hostinfo.open_fds(),
        "OomKillDisable": cgv == "1",
        "NGoroutines": threading.active_count() + len(asyncio.all_tasks()),
        "SystemTime": rfc3339nano(now_ns()),
        "LoggingDriver": facts.logging_driver,
        "CgroupDriver": facts.cgroup_driver,
        "CgroupVersion": cgv,
        "NEventsListener": backend.events.listener_count(),
        "KernelVersion": hostinfo.kernel_version(),
        "OperatingSystem": release.get("PRETTY_NAME", "Linux"),
        "OSVersion": release.get("VERSION_ID", ""),
        "OSType": "linux",
        "Architecture": os.uname().machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": None,
            "AllowNondistributableArtifactsHostnames": None,
            "InsecureRegistryCIDRs": list(facts.insecure_registries),
            "IndexConfigs": {
                "docker.io": {
                    "Name": "docker.io",
                    "Mirrors": list(facts.registry_mirrors),
                    "Secure": True,
                    "Official": True,
                }
            },
            "Mirrors": list(facts.registry_mirrors),
        },
        "NCPU": hostinfo.ncpu(),
        "MemTotal": hostinfo.mem_total(),
        "GenericResources": None,
        "DockerRootDir": facts.data_root,
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": facts.name,
        "Labels": list(facts.labels),
        "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {name: {"path": path} for name, path in facts.runtimes.items()},
        "DefaultRuntime": facts.default_runtime,
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": facts.live_restore,
        "Isolation": "",
        "InitBinary": facts.init_binary,
        "ContainerdCommit": commit,
        "RuncCommit": commit,
        "InitCommit": commit,
        "SecurityOptions": _security_options(cgv, facts.seccomp_profile, facts.userns),
        "Warnings": None,
    }


def _time_param(req: Request, key: str) -> float | None:
    value = req.query.get(key)
    if not value:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise errdefs.InvalidParameter(str(exc)) from None


async def _follow(
    replay: list[dict[str, Any]], sub: EventSubscription, only_past: bool, until: float | None
) -> AsyncIterator[bytes]:
    try:
        for msg in replay:
            yield json_line(msg)
        if only_past:
            return
        while True:
            timeout = None if until is None else max(until - time.time(), 0.0)
            try:
                msg = await asyncio.wait_for(sub.get(), timeout)
            except TimeoutError:
                return
            if until is not None and msg["timeNano"] > until * 1e9:
                return
            yield json_line(msg)
    finally:
        sub.close()


def routes(backend: SystemBackend) -> list[Route]:
    async def ping(req: Request) -> Response:
        backend.client_arrived()
        if req.method == "HEAD":
            return RawResponse(b"", "text/plain; charset=utf-8", headers=PING_HEADERS)
        return RawResponse(b"OK", "text/plain; charset=utf-8", headers=PING_HEADERS)

    async def version(req: Request) -> Response:
        return JSONResponse(version_body())

    async def info(req: Request) -> Response:
        return JSONResponse(info_body(backend))

    async def events(req: Request) -> Response:
        since, until = _time_param(req, "since"), _time_param(req, "until")
        if since is not None and until is not None and until < since:
            s, u = req.query.get("since"), req.query.get("until")
            raise errdefs.InvalidParameter(f"`since` time ({s}) cannot be after `until` time ({u})")
        only_past = until is not None and until <= time.time()
        replay, sub = backend.events.subscribe(
            req.filters(),
            None if since is None else int(since * 1e9),
            None if until is None else int(until * 1e9),
        )
        return StreamResponse(_follow(replay, sub, only_past, until), "application/json")

    async def disk_usage(req: Request) -> Response:
        types = req.query.getall("type")
        bad = [t for t in types if t not in DF_TYPES]
        if bad:
            raise errdefs.InvalidParameter(f"invalid type: {bad[0]}")
        return JSONResponse(await backend.disk_usage(types))

    return [
        Route("GET", "/_ping", ping),
        Route("HEAD", "/_ping", ping),
        Route("GET", "/version", version),
        Route("GET", "/info", info),
        Route("GET", "/events", events),
        Route("GET", "/system/df", disk_usage),
    ]
