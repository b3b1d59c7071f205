"""A container's logging driver and options (HostConfig.LogConfig): what dockerd accepts, as its texts say."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from berth import errdefs
from berth.util.sizes import DECIMAL, parse_size

__all__ = ["DRIVERS", "NO_LIMITS", "LogTarget", "driver", "json_file_limits", "log_target", "validate"]

DRIVERS = ("json-file", "none")
NO_LIMITS = (-1, 1)  # (max-size in bytes or -1, max-file)
_GENERIC = frozenset(("mode", "max-buffer-size", "cache-disabled", "cache-max-size", "cache-max-file",
                      "cache-compress"))  # dockerd takes these for every driver
_JSON_FILE = frozenset(("max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag"))


@dataclass(frozen=True, slots=True)
class LogTarget:
    """Where a shim writes the container's output: a json-file `path` ("" for none), rotated past `max_size`
    bytes (-1: never) into `max_files` files in all."""

    path: str
    max_size: int = -1
    max_files: int = 1


def log_target(host_config: dict[str, Any], json_path: str) -> LogTarget:
    if driver(host_config) == "none":
        return LogTarget("")
    return LogTarget(json_path, *json_file_limits(host_config))


def driver(host_config: dict[str, Any]) -> str:
    return str((host_config.get("LogConfig") or {}).get("Type") or "json-file")


def _options(host_config: dict[str, Any]) -> dict[str, str]:
    config = (host_config.get("LogConfig") or {}).get("Config") or {}
    if not isinstance(config, dict):
        raise errdefs.InvalidParameter("LogConfig.Config must be an object of strings")
    return {str(k): str(v) for k, v in config.items()}


def validate(host_config: dict[str, Any]) -> None:
    """Refuse (400) a driver Berth does not have and options the driver does not take, with dockerd's texts;
    the json-file limits must parse, as dockerd's logger requires when the container starts."""
    name, opts = driver(host_config), _options(host_config)
    if name == "none":
        return
    mode = opts.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise errdefs.InvalidParameter(
            "logger: logger option 'mode' can only be one of \"blocking\" or \"non-blocking\"")
    if name not in DRIVERS:
        raise errdefs.InvalidParameter(f"logger: no log driver named '{name}' is registered")
    for key in opts:
        if key not in _JSON_FILE and key not in _GENERIC:
            raise errdefs.InvalidParameter(f"unknown log opt '{key}' for json-file log driver")
    json_file_limits(host_config)


def json_file_limits(host_config: dict[str, Any]) -> tuple[int, int]:
    """(max-size in bytes, -1 for none; max-file) of the json-file driver, as dockerd's json-file logger reads
    them (sizes in decimal units: 10m is 10,000,000 bytes). Compression is not offered."""
    if driver(host_config) != "json-file":
        return NO_LIMITS
    opts = _options(host_config)
    max_size = -1
    if "max-size" in opts:
        try:
            max_size = parse_size(opts["max-size"], DECIMAL)
        except ValueError as exc:
            raise errdefs.InvalidParameter(str(exc)) from None
        if max_size <= 0:
            raise errdefs.InvalidParameter("max-size must be a positive number")
    max_files = 1
    if "max-file" in opts:
        text = opts["max-file"]
        if not re.fullmatch(r"[-+]?\d+", text, re.ASCII):
            raise errdefs.InvalidParameter(f'strconv.Atoi: parsing "{text}": invalid syntax')
        max_files = int(text)
        if max_files < 1:
            raise errdefs.InvalidParameter("max-file cannot be less than 1")
    if "compress" in opts:
        value = opts["compress"]
        if value not in ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"):
            raise errdefs.InvalidParameter(f'strconv.ParseBool: parsing "{value}": invalid syntax')
        if value.lower() in ("1", "t", "true"):
            if max_files == 1 or max_size == -1:
                raise errdefs.InvalidParameter(
                    "compress cannot be true when max-file is less than 2 or max-size is not set")
            raise errdefs.NotImplementedErr("the json-file log option compress=true is not supported by Berth")
    return max_size, max_files
