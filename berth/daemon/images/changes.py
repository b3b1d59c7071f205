"""`--change` lines for import and commit (services layer): Dockerfile instructions applied to a config."""

from __future__ import annotations

import copy
import json
import posixpath
import re
import shlex
from collections.abc import Iterable
from typing import Any

from berth import errdefs

__all__ = ["ALLOWED", "apply_changes"]

ALLOWED = (
    "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)
_PORT = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?$")


def _json_list(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _command(rest: str) -> list[str]:
    exec_form = _json_list(rest)
    return exec_form if exec_form is not None else ["/bin/sh", "-c", rest]


def _pairs(instr: str, rest: str) -> list[tuple[str, str]]:
    """ENV/LABEL arguments: `k=v k2="v 2"` or the legacy `k value with spaces`."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise errdefs.InvalidParameter(f"{instr}: {exc}") from None
    if not words:
        raise errdefs.InvalidParameter(f"{instr} requires at least one argument")
    if "=" not in words[0]:
        key, _, value = rest.strip().partition(" ")
        if not value.strip():
            raise errdefs.InvalidParameter(f"{instr} must have two arguments")
        return [(key, value.strip())]
    out = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            if not key:
                raise errdefs.InvalidParameter(f"{instr} names can not be blank")
            raise errdefs.InvalidParameter(
                f"Syntax error - can't find = in {word!r}. Must be of the form: name=value"
            )
        out.append((key, value))
    return out


def _expose(rest: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for word in rest.split():
        m = _PORT.match(word)
        if not m:
            raise errdefs.InvalidParameter(f"invalid containerPort: {word}")
        first = int(m.group(1))
        last = int(m.group(2) or first)
        if last < first:
            raise errdefs.InvalidParameter(f"invalid range specified for containerPort: {word}")
        for port in range(first, last + 1):
            out[f"{port}/{m.group(3) or 'tcp'}"] = {}
    return out


class _State:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.cmd_set = False

    def apply(self, instr: str, rest: str) -> None:
        c = self.config
        if instr == "CMD":
            c["Cmd"] = _command(rest)
            self.cmd_set = True
        elif instr == "ENTRYPOINT":
            c["Entrypoint"] = _command(rest) if rest else None
            if not self.cmd_set:
                c["Cmd"] = None
        elif instr == "ENV":
            env = [e for e in (c.get("Env") or [])]
            for key, value in _pairs(instr, rest):
                env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
            c["Env"] = env
        elif instr == "LABEL":
            c["Labels"] = {**(c.get("Labels") or {}), **dict(_pairs(instr, rest))}
        elif instr == "EXPOSE":
            if not rest:
                raise errdefs.InvalidParameter("EXPOSE requires at least one argument")
            c["ExposedPorts"] = {**(c.get("ExposedPorts") or {}), **_expose(rest)}
        elif instr == "VOLUME":
            paths = _json_list(rest)
            paths = paths if paths is not None else rest.split()
            if not paths or any(not p.strip() for p in paths):
                raise errdefs.InvalidParameter("VOLUME specified can not be an empty string")
            c["Volumes"] = {**(c.get("Volumes") or {}), **{p: {} for p in paths}}
        elif instr == "USER":
            if len(rest.split()) != 1:
                raise errdefs.InvalidParameter("USER requires exactly one argument")
            c["User"] = rest
        elif instr == "WORKDIR":
            if not rest:
                raise errdefs.InvalidParameter("WORKDIR requires exactly one argument")
            c["WorkingDir"] = posixpath.normpath(posixpath.join("/", c.get("WorkingDir") or "/", rest))
        elif instr == "STOPSIGNAL":
            if len(rest.split()) != 1:
                raise errdefs.InvalidParameter("STOPSIGNAL requires exactly one argument")
            c["StopSignal"] = rest
        elif instr == "ONBUILD":
            self._onbuild(rest)

    def _onbuild(self, rest: str) -> None:
        trigger, _, args = rest.strip().partition(" ")
        trigger = trigger.upper()
        if not trigger:
            raise errdefs.InvalidParameter("ONBUILD requires at least one argument")
        if trigger == "ONBUILD":
            raise errdefs.InvalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("FROM", "MAINTAINER"):
            raise errdefs.InvalidParameter(f"{trigger} isn't allowed as an ONBUILD trigger")
        self.config["OnBuild"] = [*(self.config.get("OnBuild") or []), f"{trigger} {args}".strip()]


def apply_changes(config: dict[str, Any], changes: Iterable[str]) -> dict[str, Any]:
    """A copy of `config` with each change line applied in order (moby BuildFromConfig subset)."""
    state = _State(copy.deepcopy(config))
    for change in changes:
        for line in change.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            instr = word.upper()
            if instr not in ALLOWED:
                raise errdefs.InvalidParameter(f"{word} is not a valid change command")
            state.apply(instr, rest.strip())
    return state.config
