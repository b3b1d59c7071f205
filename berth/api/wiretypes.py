"""Request bodies checked against the Go types dockerd decodes them into: a value of the wrong JSON type is a
400 with encoding/json's text, before any service sees it. Unknown fields pass, as in Go; null is every
type's zero value."""

from __future__ import annotations

from typing import Any

from berth import errdefs

__all__ = ["CONTAINER_CREATE", "CONTAINER_UPDATE", "EXEC_CREATE", "EXEC_START", "VOLUME_CREATE", "check"]

# a type is a Go type name (str), ("[]", elem), ("map", value), or a struct: (name, {field: type})
Type = Any
STRSLICE = "strslice"  # docker's StrSlice: a string or a list of strings
_INTS = {"int": (-(2**63), 2**63 - 1), "int64": (-(2**63), 2**63 - 1), "uint16": (0, 2**16 - 1),
         "uint32": (0, 2**32 - 1), "uint64": (0, 2**64 - 1), "uint": (0, 2**64 - 1)}
S, B = "string", "bool"


def _list(elem: Type) -> Type:
    return ("[]", elem)


def _map(value: Type) -> Type:
    return ("map", value)


_STRINGS, _LABELS = _list(S), _map(S)
_WEIGHT_DEVICE = ("WeightDevice", {"Path": S, "Weight": "uint16"})
_THROTTLE_DEVICE = ("ThrottleDevice", {"Path": S, "Rate": "uint64"})
_HEALTHCHECK = ("HealthConfig", {"Test": _STRINGS, "Interval": "int64", "Timeout": "int64", "StartPeriod": "int64",
                                 "StartInterval": "int64", "Retries": "int"})
_RESOURCES = {
    "CpuShares": "int64", "Memory": "int64", "NanoCpus": "int64", "CgroupParent": S, "BlkioWeight": "uint16",
    "BlkioWeightDevice": _list(_WEIGHT_DEVICE), "BlkioDeviceReadBps": _list(_THROTTLE_DEVICE),
    "BlkioDeviceWriteBps": _list(_THROTTLE_DEVICE), "BlkioDeviceReadIOps": _list(_THROTTLE_DEVICE),
    "BlkioDeviceWriteIOps": _list(_THROTTLE_DEVICE), "CpuPeriod": "int64", "CpuQuota": "int64",
    "CpuRealtimePeriod": "int64", "CpuRealtimeRuntime": "int64", "CpusetCpus": S, "CpusetMems": S,
    "Devices": _list(("DeviceMapping", {"PathOnHost": S, "PathInContainer": S, "CgroupPermissions": S})),
    "DeviceCgroupRules": _STRINGS, "KernelMemory": "int64", "KernelMemoryTCP": "int64",
    "MemoryReservation": "int64", "MemorySwap": "int64", "MemorySwappiness": "int64", "OomKillDisable": B,
    "PidsLimit": "int64", "Ulimits": _list(("Ulimit", {"Name": S, "Hard": "int64", "Soft": "int64"})),
    "CpuCount": "int64", "CpuPercent": "int64", "IOMaximumIOps": "uint64", "IOMaximumBandwidth": "uint64",
}
_MOUNT = ("Mount", {
    "Type": S, "Source": S, "Target": S, "ReadOnly": B, "Consistency": S,
    "BindOptions": ("BindOptions", {"Propagation": S, "NonRecursive": B, "CreateMountpoint": B,
                                    "ReadOnlyNonRecursive": B, "ReadOnlyForceRecursive": B}),
    "VolumeOptions": ("VolumeOptions", {"NoCopy": B, "Labels": _LABELS, "Subpath": S,
                                        "DriverConfig": ("Driver", {"Name": S, "Options": _LABELS})}),
    "TmpfsOptions": ("TmpfsOptions", {"SizeBytes": "int64", "Mode": "uint32", "Options": _list(_STRINGS)}),
})
_RESTART_POLICY = ("RestartPolicy", {"Name": S, "MaximumRetryCount": "int"})
HOST_CONFIG = ("HostConfig", {
    **_RESOURCES,
    "Binds": _STRINGS, "ContainerIDFile": S, "LogConfig": ("LogConfig", {"Type": S, "Config": _LABELS}),
    "NetworkMode": S, "PortBindings": _map(_list(("PortBinding", {"HostIp": S, "HostPort": S}))),
    "RestartPolicy": _RESTART_POLICY, "AutoRemove": B, "VolumeDriver": S, "VolumesFrom": _STRINGS,
    "ConsoleSize": _list("uint"), "Annotations": _LABELS, "CapAdd": STRSLICE, "CapDrop": STRSLICE,
    "CgroupnsMode": S, "Dns": _STRINGS, "DnsOptions": _STRINGS, "DnsSearch": _STRINGS, "ExtraHosts": _STRINGS,
    "GroupAdd": _STRINGS, "IpcMode": S, "Cgroup": S, "Links": _STRINGS, "OomScoreAdj": "int", "PidMode": S,
    "Privileged": B, "PublishAllPorts": B, "ReadonlyRootfs": B, "SecurityOpt": _STRINGS, "StorageOpt": _LABELS,
    "Tmpfs": _LABELS, "UTSMode": S, "UsernsMode": S, "ShmSize": "int64", "Sysctls": _LABELS, "Runtime": S,
    "Isolation": S, "Mounts": _list(_MOUNT), "MaskedPaths": _STRINGS, "ReadonlyPaths": _STRINGS, "Init": B,
})
_ENDPOINT = ("EndpointSettings", {
    "IPAMConfig": ("EndpointIPAMConfig", {"IPv4Address": S, "IPv6Address": S, "LinkLocalIPs": _STRINGS}),
    "Links": _STRINGS, "Aliases": _STRINGS, "MacAddress": S, "DriverOpts": _LABELS, "NetworkID": S,
    "EndpointID": S, "Gateway": S, "IPAddress": S, "IPPrefixLen": "int", "IPv6Gateway": S,
    "GlobalIPv6Address": S, "GlobalIPv6PrefixLen": "int", "DNSNames": _STRINGS,
})
CONTAINER_CREATE = ("Config", {
    "Hostname": S, "Domainname": S, "User": S, "AttachStdin": B, "AttachStdout": B, "AttachStderr": B,
    "ExposedPorts": _map(("struct {}", {})), "Tty": B, "OpenStdin": B, "StdinOnce": B, "Env": _STRINGS,
    "Cmd": STRSLICE, "Healthcheck": _HEALTHCHECK, "ArgsEscaped": B, "Image": S, "Volumes": _map(("struct {}", {})),
    "WorkingDir": S, "Entrypoint": STRSLICE, "NetworkDisabled": B, "MacAddress": S, "OnBuild": _STRINGS,
    "Labels": _LABELS, "StopSignal": S, "StopTimeout": "int", "Shell": STRSLICE,
    "HostConfig": HOST_CONFIG,
    "NetworkingConfig": ("NetworkingConfig", {"EndpointsConfig": _map(_ENDPOINT)}),
})
CONTAINER_UPDATE = ("UpdateConfig", {**_RESOURCES, "RestartPolicy": _RESTART_POLICY})
EXEC_CREATE = ("ExecConfig", {
    "User": S, "Privileged": B, "Tty": B, "ConsoleSize": _list("uint"), "AttachStdin": B, "AttachStderr": B,
    "AttachStdout": B, "DetachKeys": S, "Env": _STRINGS, "WorkingDir": S, "Cmd": _STRINGS,
})

EXEC_START = ("ExecStartCheck", {"Detach": B, "Tty": B, "ConsoleSize": _list("uint")})
VOLUME_CREATE = ("CreateOptions", {"Name": S, "Driver": S, "DriverOpts": _LABELS, "Labels": _LABELS})


def check(body: Any, schema: Type) -> None:
    """Raise InvalidParameter where `body` does not decode into `schema`, as encoding/json words it."""
    _check(body, schema, schema[0], "")


def _check(value: Any, t: Type, struct: str, field: str) -> None:
    if value is None:
        return
    if isinstance(t, tuple) and t[0] == "[]":
        if not isinstance(value, list):
            _refuse(value, t, struct, field)
        for item in value:
            _check(item, t[1], struct, field)
    elif isinstance(t, tuple) and t[0] == "map":
        if not isinstance(value, dict):
            _refuse(value, t, struct, field)
        for item in value.values():
            _check(item, t[1], struct, field)
    elif isinstance(t, tuple):
        if not isinstance(value, dict):
            _refuse(value, t, struct, field)
        name, fields = t
        for key, item in value.items():
            if key in fields:
                _check(item, fields[key], name, key)
    elif t == STRSLICE:
        if not isinstance(value, str | list):
            _refuse(value, t, struct, field)
        for item in value if isinstance(value, list) else ():
            _check(item, S, struct, field)
    elif t == S:
        if not isinstance(value, str):
            _refuse(value, t, struct, field)
    elif t == B:
        if not isinstance(value, bool):
            _refuse(value, t, struct, field)
    else:
        low, high = _INTS[t]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            _refuse(value, t, struct, field)


def _go_name(t: Type) -> str:
    if isinstance(t, tuple) and t[0] == "[]":
        return "[]" + _go_name(t[1])
    if isinstance(t, tuple) and t[0] == "map":
        return "map[string]" + _go_name(t[1])
    if isinstance(t, tuple):
        return t[0] if t[0] == "struct {}" else f"container.{t[0]}"
    return "strslice.StrSlice" if t == STRSLICE else str(t)


def _refuse(value: Any, t: Type, struct: str, field: str) -> None:
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int | float):
        kind = f"number {value}" if isinstance(t, str) and t in _INTS else "number"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, list):
        kind = "array"
    else:
        kind = "object"
    where = f"Go struct field {struct}.{field}" if field else "Go value"
    raise errdefs.InvalidParameter(f"json: cannot unmarshal {kind} into {where} of type {_go_name(t)}")
