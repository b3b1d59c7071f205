"""Seccomp profiles (seccomp layer): Docker's profile JSON decoded and resolved into OCI `linux.seccomp`.

`load_profile(text)` decodes like dockerd's `LoadProfile` (Go's encoding/json rules: unknown keys ignored,
case-insensitive keys, null = absent, "Decoding seccomp profile failed: ..." on bad input); `resolve(profile,
bounding_caps)` does moby's `setupSeccomp` for this host (archMap entry of the native arch, includes/excludes
against the arch, the capability bounding set and the kernel version). The runtime-side checks on the OCI form
live in `berth.seccomp.rules`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

__all__ = ["NATIVE_ARCH", "ProfileError", "kernel_version", "load_profile", "resolve"]

NATIVE_ARCH = "amd64"  # libseccomp's name for this machine's architecture (x86_64 only)
_NATIVE_SCMP = "SCMP_ARCH_X86_64"


class ProfileError(ValueError):
    """A profile Docker would refuse; the message is Docker's text."""


# Go types of the fields, for encoding/json's error texts. kind: s string, u uint, u64 uint64, [ list of,
# {name} nested struct, k kernel version
_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "Seccomp": {
        "defaultAction": ("s", "specs.LinuxSeccompAction"), "defaultErrnoRet": ("u", "uint"),
        "architectures": ("[s", "specs.Arch"), "archMap": ("[{Architecture", "seccomp.Architecture"),
        "flags": ("[s", "specs.LinuxSeccompFlag"), "listenerPath": ("s", "string"),
        "listenerMetadata": ("s", "string"), "syscalls": ("[{Syscall", "*seccomp.Syscall"),
    },
    "Architecture": {"architecture": ("s", "specs.Arch"), "subArchitectures": ("[s", "specs.Arch")},
    "Syscall": {
        "names": ("[s", "string"), "action": ("s", "specs.LinuxSeccompAction"), "errnoRet": ("u", "uint"),
        "args": ("[{LinuxSeccompArg", "specs.LinuxSeccompArg"), "name": ("s", "string"),
        "comment": ("s", "string"), "includes": ("{Filter", "seccomp.Filter"),
        "excludes": ("{Filter", "seccomp.Filter"),
    },
    "LinuxSeccompArg": {
        "index": ("u", "uint"), "value": ("u64", "uint64"), "valueTwo": ("u64", "uint64"),
        "op": ("s", "specs.LinuxSeccompOperator"),
    },
    "Filter": {"caps": ("[s", "string"), "arches": ("[s", "string"), "minKernel": ("k", "seccomp.KernelVersion")},
}
_UINT_MAX = {"u": 2**64 - 1, "u64": 2**64 - 1}


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return f"number {v}" if isinstance(v, int) and v < 0 else "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object" if isinstance(v, dict) else "value"


def _type_error(v: Any, struct: str, path: str, gotype: str) -> ProfileError:
    return ProfileError(
        f"Decoding seccomp profile failed: json: cannot unmarshal {_json_kind(v)} into Go struct field "
        f"{struct}.{path} of type {gotype}"
    )


def _scalar(v: Any, kind: str, struct: str, path: str, gotype: str) -> Any:
    if kind == "s":
        if not isinstance(v, str):
            raise _type_error(v, struct, path, gotype)
        return v
    if kind == "k":
        return _kernel(v)
    if isinstance(v, float) and v.is_integer() and not isinstance(v, bool):
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= _UINT_MAX[kind]:
        raise _type_error(v, struct, path, gotype)
    return v


def _kernel(v: Any) -> tuple[int, int] | None:
    raw = json.dumps(v)
    if not isinstance(v, str):
        raise ProfileError(
            f'Decoding seccomp profile failed: invalid kernel version: {raw}, expected "<kernel>.<major>": '
            f"json: cannot unmarshal {_json_kind(v)} into Go value of type string"
        )
    if v == "":
        return None
    parts = v.split(".", 2)
    if len(parts) != 2:
        raise ProfileError(
            f'Decoding seccomp profile failed: invalid kernel version: {raw}, expected "<kernel>.<major>"'
        )
    nums = []
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            raise ProfileError(
                f'Decoding seccomp profile failed: invalid kernel version: {raw}, expected "<kernel>.<major>": '
                f'strconv.ParseUint: parsing "{p}": {"value out of range" if p.isdigit() else "invalid syntax"}'
            )
        nums.append(int(p))
    if nums == [0, 0]:
        raise ProfileError(
            f'Decoding seccomp profile failed: invalid kernel version: {raw}, expected "<kernel>.<major>": '
            "version cannot be 0.0"
        )
    return nums[0], nums[1]


def _struct(obj: Any, struct: str, prefix: str, parent: str, gotype: str) -> dict[str, Any]:
    """Decode one JSON object into the fields of `struct` (Go's rules); prefix = the field path so far."""
    if not isinstance(obj, dict):
        raise _type_error(obj, parent, prefix.rstrip("."), gotype)
    fields = _FIELDS[struct]
    by_lower = {k.lower(): k for k in fields}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = key if key in fields else by_lower.get(key.lower())
        if name is None or value is None:
            continue
        kind, ftype = fields[name]
        path = prefix + name
        if kind.startswith("["):
            if not isinstance(value, list):
                raise _type_error(value, struct, path, "[]" + ftype)
            inner = kind[1:]
            if inner.startswith("{"):
                out[name] = [_struct(x, inner[1:], path + ".", struct, ftype) for x in value if x is not None]
            else:
                out[name] = [_scalar(x, inner, struct, path, ftype) for x in value if x is not None]
        elif kind.startswith("{"):
            out[name] = _struct(value, kind[1:], path + ".", struct, ftype)
        else:
            out[name] = _scalar(value, kind, struct, path, ftype)
    return out


def load_profile(text: str | bytes) -> dict[str, Any]:
    """Decode a profile's JSON text as dockerd does; ProfileError with Docker's text when it cannot."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProfileError(f"Decoding seccomp profile failed: {_json_error(e)}") from None
    except UnicodeDecodeError as e:
        raise ProfileError(f"Decoding seccomp profile failed: {e}") from None
    if doc is None:
        return {}
    return _struct(doc, "Seccomp", "", "Seccomp", "seccomp.Seccomp")


def _json_error(e: json.JSONDecodeError) -> str:
    """Go's encoding/json wording for the common cases."""
    if e.pos >= len(e.doc.rstrip()):
        return "unexpected end of JSON input"
    ch = e.doc[e.pos]
    for python, go in _GO_JSON_ERRORS:
        if e.msg.startswith(python):
            return f"invalid character {ch!r} {go}"
    return f"invalid character {ch!r} ({e.msg.lower()} at offset {e.pos + 1})"


_GO_JSON_ERRORS = (
    ("Expecting value", "looking for beginning of value"),
    ("Expecting property name", "looking for beginning of object key string"),
    ("Expecting ':' delimiter", "after object key"),
    ("Expecting ',' delimiter", "after object key:value pair"),
    ("Extra data", "after top-level value"),
)


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """(kernel, major) of this machine (or of `release`), as moby's parseRelease reads uname -r."""
    rel = release if release is not None else os.uname().release
    parts = rel.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1].split("-")[0] if ch.isdigit()) or "x")
    except (IndexError, ValueError):
        raise ProfileError(f'failed to parse kernel version "{rel}": expected integer') from None


def _filtered_out(call: dict[str, Any], caps: Sequence[str], arch: str, kernel: tuple[int, int]) -> bool:
    """moby's includes/excludes: skip the rule on this arch / with these bounding caps / this kernel."""
    ex = call.get("excludes") or {}
    if ex.get("arches") and arch in ex["arches"]:
        return True
    if any(c in caps for c in ex.get("caps") or []):
        return True
    if ex.get("minKernel") and kernel >= _min_kernel(ex["minKernel"]):
        return True
    inc = call.get("includes") or {}
    if inc.get("arches") and arch not in inc["arches"]:
        return True
    if any(c not in caps for c in inc.get("caps") or []):
        return True
    return bool(inc.get("minKernel") and kernel < _min_kernel(inc["minKernel"]))


def _min_kernel(v: Any) -> tuple[int, int]:
    """A decoded minKernel is a tuple; the built-in profile's is still its "4.8" text."""
    return v if isinstance(v, tuple) else _kernel(v) or (0, 0)


def resolve(profile: dict[str, Any], bounding_caps: Sequence[str], *, arch: str = NATIVE_ARCH,
            kernel: tuple[int, int] | None = None) -> dict[str, Any] | None:
    """moby's setupSeccomp: the OCI `linux.seccomp` for a container with these bounding caps; None = none."""
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise ProfileError("both 'architectures' and 'archMap' are specified in the seccomp profile, "
                           "use either 'architectures' or 'archMap'")
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction", "")}
    for key in ("defaultErrnoRet", "listenerPath", "listenerMetadata", "flags"):
        if profile.get(key) not in (None, "", []):
            out[key] = profile[key]
    arches = list(profile.get("architectures") or [])
    if arch == NATIVE_ARCH:
        for entry in profile.get("archMap") or []:
            if entry.get("architecture") == _NATIVE_SCMP:
                arches += [entry["architecture"], *(entry.get("subArchitectures") or [])]
                break
    if arches:
        out["architectures"] = arches
    syscalls: list[dict[str, Any]] = []
    for call in profile.get("syscalls") or []:
        names = list(call.get("names") or [])
        if call.get("name"):
            if names:
                raise ProfileError("both 'name' and 'names' are specified in the seccomp profile, "
                                   "use either 'name' or 'names'")
            names = [call["name"]]
        needs_kernel = (call.get("includes") or {}).get("minKernel") or (call.get("excludes") or {}).get("minKernel")
        if needs_kernel and kernel is None:
            kernel = kernel_version()
        if _filtered_out(call, bounding_caps, arch, kernel or (0, 0)):
            continue
        rule: dict[str, Any] = {"names": names, "action": call.get("action", "")}
        if call.get("errnoRet") is not None:
            rule["errnoRet"] = call["errnoRet"]
        if call.get("args"):
            rule["args"] = [dict(a) for a in call["args"]]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out
