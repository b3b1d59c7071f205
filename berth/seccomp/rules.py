"""OCI `linux.seccomp` checked and reduced to per-syscall rules (seccomp layer), with runc's semantics.

What runc (with libseccomp) does, and so do we:
- unknown actions, operators, architectures or flags are errors (runc's texts); SCMP_ACT_NOTIFY is refused
  (no seccomp agent here); an empty syscall name is an error;
- a syscall name no x86 table knows is skipped silently (runc logs it at debug level: profiles name
  syscalls of other architectures and of newer kernels), as are architectures other than x86_64/x86/x32,
  whose syscalls this machine never makes;
- a rule whose action equals the default action is dropped; when several conditions of one rule test the
  same argument, each becomes a rule of its own (OR), else they are ANDed;
- per syscall, the first unconditional rule wins over everything else (libseccomp's database), otherwise
  conditional rules are tried in profile order and the first match decides (where libseccomp would order
  overlapping conditions of different actions by its own tree, we keep the profile's order);
- SCMP_ACT_ERRNO and SCMP_ACT_TRACE without errnoRet return EPERM; SCMP_ACT_KILL is KILL_THREAD;
- the native architecture (x86_64) is always in the filter; a foreign one gets KILL_THREAD (libseccomp's
  bad-arch action);
- i386's socketcall/ipc multiplexers are not rewritten into per-call rules (libseccomp does): a rule on
  `socket` covers the direct syscall; Docker's profile allows socketcall outright, so nothing changes there;
- runc's ENOSYS stub: unless the default action lets calls through (ALLOW, LOG, TRACE), syscall numbers above
  the highest one the profile names (per architecture) return ENOSYS, so that programs fall back from
  syscalls newer than the profile.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACTIONS", "ARCHES", "AUDIT_ARCH_I386", "AUDIT_ARCH_X86_64", "ArchRules", "FLAGS", "OPERATORS", "Rule",
    "RulesError", "X32_BIT", "action_value", "reduce",
]

# linux/seccomp.h
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
EPERM, ENOSYS = 1, 38
ACTIONS = {
    "SCMP_ACT_KILL": RET_KILL_THREAD, "SCMP_ACT_KILL_THREAD": RET_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": RET_KILL_PROCESS, "SCMP_ACT_TRAP": RET_TRAP, "SCMP_ACT_ERRNO": RET_ERRNO,
    "SCMP_ACT_TRACE": RET_TRACE, "SCMP_ACT_LOG": RET_LOG, "SCMP_ACT_ALLOW": RET_ALLOW, "SCMP_ACT_NOTIFY": -1,
}
_LET_THROUGH = (RET_ALLOW, RET_LOG)  # and TRACE, checked by mask
OPERATORS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
             "SCMP_CMP_MASKED_EQ")
ARCHES = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
          "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
          "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64",
          "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_LOONGARCH64")
# OCI flag -> seccomp(2) filter flag (TSYNC is accepted and ignored, as runc does: we are single-threaded)
FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 0, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32}
FLAG_SPEC_ALLOW = 4
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
X32_BIT = 0x40000000
_OUR_ARCHES = {"SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X86": "i386", "SCMP_ARCH_X32": "x32"}

Cond = tuple[int, str, int, int]  # index, op, value, valueTwo
Rule = tuple[tuple[Cond, ...], int]  # conditions (ANDed), action value


class RulesError(ValueError):
    """An OCI seccomp config the runtime refuses (runc's texts where runc has one)."""


class ArchRules:
    """One ABI's share of the filter: syscall number -> rules, and the ENOSYS threshold."""

    __slots__ = ("name", "rules", "top")

    def __init__(self, name: str) -> None:
        self.name = name
        self.rules: dict[int, list[Rule]] = {}
        self.top = -1  # highest syscall number the profile names; -1 = none (no ENOSYS stub)


def action_value(name: Any, errno_ret: Any) -> int:
    """The SECCOMP_RET_* value of an OCI action name."""
    if name not in ACTIONS:
        raise RulesError(f"string {name} is not a valid action for seccomp")
    value = ACTIONS[name]
    if value < 0:
        raise RulesError("SCMP_ACT_NOTIFY is not supported: berth has no seccomp agent (listenerPath)")
    if value in (RET_ERRNO, RET_TRACE):
        value |= (EPERM if errno_ret is None else int(errno_ret)) & 0xFFFF
    return value


def _conditions(args: list[dict[str, Any]], name: str) -> list[tuple[Cond, ...]]:
    conds: list[Cond] = []
    for arg in args:
        op = arg.get("op")
        if op not in OPERATORS:
            raise RulesError(f"string {op} is not a valid operator for seccomp")
        index = int(arg.get("index", 0))
        if not 0 <= index < 6:
            raise RulesError(f"error creating seccomp syscall condition for syscall {name}: "
                             f"argument index {index} out of range (0-5)")
        conds.append((index, op, int(arg.get("value", 0)), int(arg.get("valueTwo", 0))))
    indexes = [c[0] for c in conds]
    if len(set(indexes)) != len(indexes):
        return [(c,) for c in conds]  # runc: one rule per condition when an argument repeats
    return [tuple(conds)]


def flags_of(seccomp: dict[str, Any]) -> int:
    """seccomp(2) flags: the OCI `flags`, or SPEC_ALLOW when none are given (runc's default)."""
    if seccomp.get("flags") is None:
        return FLAG_SPEC_ALLOW
    out = 0
    for flag in seccomp["flags"]:
        if flag not in FLAGS:
            raise RulesError(f"seccomp flag {flag} is not known to the runtime")
        out |= FLAGS[flag]
    return out


def reduce(seccomp: dict[str, Any]) -> tuple[int, list[ArchRules]]:
    """(default action value, rules per ABI in filter order x86_64, x32, i386)."""
    from berth.seccomp import tables

    if seccomp.get("listenerPath"):
        raise RulesError("SCMP_ACT_NOTIFY is not supported: berth has no seccomp agent (listenerPath)")
    flags_of(seccomp)
    default = action_value(seccomp.get("defaultAction"), seccomp.get("defaultErrnoRet"))
    wanted = {"x86_64"}
    for arch in seccomp.get("architectures") or []:
        if arch not in ARCHES:
            raise RulesError(f"string {arch} is not a valid arch for seccomp")
        if arch in _OUR_ARCHES:
            wanted.add(_OUR_ARCHES[arch])
    table_of = {"x86_64": tables.X86_64, "x32": tables.X32, "i386": tables.I386}
    archs = [ArchRules(a) for a in ("x86_64", "x32", "i386") if a in wanted]
    for call in seccomp.get("syscalls") or []:
        action = action_value(call.get("action"), call.get("errnoRet"))
        names = list(call.get("names") or [])
        for name in names:
            if not name:
                raise RulesError("empty string is not a valid syscall")
            variants = _conditions(list(call.get("args") or []), name)
            for ar in archs:
                nr = table_of[ar.name].get(name)
                if nr is None:
                    continue
                ar.top = max(ar.top, nr)
                if action != default:
                    ar.rules.setdefault(nr, []).extend((v, action) for v in variants)
    let_through = default in _LET_THROUGH or default & 0xFFFF0000 == RET_TRACE
    for ar in archs:
        if let_through:
            ar.top = -1
        for nr, rules in ar.rules.items():
            first = next((r for r in rules if not r[0]), None)
            if first is not None:
                ar.rules[nr] = [first]
    return default, archs
