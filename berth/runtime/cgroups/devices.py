"""linux.resources.devices -> the devices cgroup (runtime layer): v1 allow/deny files or a cgroup2 eBPF filter.

Rules are reduced runc's way: the config's rules, then runc's default allowed devices appended, replayed
through a model of the v1 controller (a default plus exceptions); the result is written to devices.deny /
devices.allow (v1) or compiled into a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup (v2).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DEFAULT_ALLOWED", "Rule", "apply_v1", "apply_v2", "device_program", "reduce", "rules_from_spec"]

WILDCARD = -1


class Rule:
    """One device rule: allow or deny `access` (subset of "rwm") to type a|c|b, major:minor (-1 = any)."""

    __slots__ = ("access", "allow", "major", "minor", "type")

    def __init__(self, allow: bool, type_: str, major: int, minor: int, access: str) -> None:
        self.allow, self.type, self.major, self.minor = allow, type_, major, minor
        self.access = "".join(c for c in "rwm" if c in access)

    def key(self) -> tuple[str, int, int]:
        return self.type, self.major, self.minor

    def v1_line(self) -> str:
        def num(n: int) -> str:
            return "*" if n == WILDCARD else str(n)

        return f"{self.type} {num(self.major)}:{num(self.minor)} {self.access}"

    def __repr__(self) -> str:
        return f"Rule({'allow' if self.allow else 'deny'} {self.v1_line()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rule) and (self.allow, *self.key(), self.access) == (
            other.allow, *other.key(), other.access)

    def __hash__(self) -> int:
        return hash((self.allow, *self.key(), self.access))


# runc's AllowedDevices (libcontainer/specconv), appended after the config's rules
DEFAULT_ALLOWED: tuple[Rule, ...] = (
    Rule(True, "c", WILDCARD, WILDCARD, "m"),
    Rule(True, "b", WILDCARD, WILDCARD, "m"),
    Rule(True, "c", 1, 3, "rwm"),
    Rule(True, "c", 1, 8, "rwm"),
    Rule(True, "c", 1, 7, "rwm"),
    Rule(True, "c", 5, 0, "rwm"),
    Rule(True, "c", 1, 5, "rwm"),
    Rule(True, "c", 1, 9, "rwm"),
    Rule(True, "c", 136, WILDCARD, "rwm"),
    Rule(True, "c", 5, 2, "rwm"),
    Rule(True, "c", 10, 200, "rwm"),
)


def _num(value: Any) -> int:
    return WILDCARD if value is None or int(value) < 0 else int(value)


def rules_from_spec(devices: list[dict[str, Any]] | None) -> list[Rule]:
    """OCI linux.resources.devices entries (type default "a", access default "rwm") plus runc's defaults."""
    out = []
    for d in devices or []:
        kind = str(d.get("type") or "a")
        if kind not in ("a", "c", "b", "u"):
            raise ValueError(f"invalid device rule type {kind!r}")
        access = str(d.get("access") or "rwm")
        if any(ch not in "rwm" for ch in access):
            raise ValueError(f"invalid device rule access {access!r}")
        out.append(Rule(bool(d.get("allow")), "c" if kind == "u" else kind, _num(d.get("major")),
                        _num(d.get("minor")), access))
    return out + list(DEFAULT_ALLOWED)


def reduce(rules: list[Rule]) -> tuple[bool, list[Rule]]:
    """Replay the rules through the v1 model: (default allow?, exceptions in order)."""
    default_allow = True
    exceptions: dict[tuple[str, int, int], str] = {}
    for r in rules:
        if r.type == "a":
            default_allow = r.allow
            exceptions.clear()
            continue
        key = r.key()
        if r.allow != default_allow:  # an exception to the default: add (merging access)
            have = exceptions.get(key, "")
            exceptions[key] = "".join(c for c in "rwm" if c in have or c in r.access)
        elif key in exceptions:  # same sense as the default: take the access back out of an exception
            left = "".join(c for c in exceptions[key] if c not in r.access)
            if left:
                exceptions[key] = left
            else:
                del exceptions[key]
    return default_allow, [Rule(not default_allow, t, ma, mi, acc) for (t, ma, mi), acc in exceptions.items()]


def apply_v1(d: str, devices: list[dict[str, Any]] | None) -> None:
    """Write the reduced rules into a v1 devices cgroup directory."""
    default_allow, exceptions = reduce(rules_from_spec(devices))
    with open(os.path.join(d, "devices.allow" if default_allow else "devices.deny"), "w") as f:
        f.write("a")
    name = "devices.deny" if default_allow else "devices.allow"
    for r in exceptions:
        with open(os.path.join(d, name), "w") as f:
            f.write(r.v1_line())


_BPF_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
_BPF_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE


def device_program(default_allow: bool, exceptions: list[Rule]) -> bytes:
    """The cgroup device filter: the first matching exception decides, otherwise the default (runc's layout).

    Context (struct bpf_cgroup_dev_ctx): access_type = access << 16 | type, major, minor (u32 each).
    """
    from berth.kernel.bpf_asm import R0, R1, R2, R3, R4, R5, Program

    p = Program()
    p.load_u32(R2, R1, 0)
    p.and32(R2, 0xFFFF)
    p.load_u32(R3, R1, 0)
    p.rsh32(R3, 16)
    p.load_u32(R4, R1, 4)
    p.load_u32(R5, R1, 8)
    for i, r in enumerate(exceptions):
        nxt = f"next{i}"
        p.jne_imm(R2, _BPF_TYPE[r.type], nxt)
        if r.access != "rwm":
            mask = sum(_BPF_ACCESS[c] for c in r.access)
            p.mov32_reg(R1, R3)
            p.and32(R1, mask)
            p.jne_reg(R1, R3, nxt)
        if r.major != WILDCARD:
            p.jne_imm(R4, r.major, nxt)
        if r.minor != WILDCARD:
            p.jne_imm(R5, r.minor, nxt)
        p.mov_imm(R0, 1 if r.allow else 0)
        p.exit()
        p.label(nxt)
    p.mov_imm(R0, 1 if default_allow else 0)
    p.exit()
    return p.assemble()


def apply_v2(d: str, devices: list[dict[str, Any]] | None) -> None:
    """Compile the rules, attach the program to the cgroup2 directory and detach the ones it replaces."""
    from berth.kernel import bpf

    default_allow, exceptions = reduce(rules_from_spec(devices))
    old = bpf.attached_device_progs(d)
    fd = bpf.load_cgroup_device(device_program(default_allow, exceptions))
    try:
        bpf.attach_cgroup_device(d, fd)
    finally:
        os.close(fd)
    for prog_id in old:
        bpf.detach_cgroup_device(d, prog_id)
