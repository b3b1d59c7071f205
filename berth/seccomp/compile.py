"""OCI `linux.seccomp` -> classic BPF (seccomp layer), without libseccomp.

Program shape (struct seccomp_data: nr @0, arch @4, args[i] @16+8i, little-endian):

    ld arch; jne X86_64 -> NOT64; ld nr; jset X32_BIT -> X32 (if x32 is listed, else BAD); <dispatch x86_64>
    X32: <dispatch x32>
    NOT64: jne I386 -> BAD (if x86 is listed); ld nr; <dispatch i386>
    BAD: ret KILL_THREAD (a foreign architecture, libseccomp's bad-arch action)

A dispatch is a balanced binary search (`jge`) over the syscall-number intervals that share one outcome:
runs of syscalls with the same unconditional action merge, so Docker's 350-name allowlist costs about
seven comparisons per syscall. A syscall with argument rules gets its own block: each rule's conditions in
turn (64-bit arguments compared as high and low words; 32-bit ABIs compare the low word), `ret` on the first
rule that matches, the default action when none does.
"""

from __future__ import annotations

from typing import Any

from berth.seccomp.bpf import JEQ, JGE, JGT, JSET, Assembler, encode
from berth.seccomp.filter import Filter
from berth.seccomp.rules import (
    AUDIT_ARCH_I386,
    AUDIT_ARCH_X86_64,
    ENOSYS,
    RET_ERRNO,
    RET_KILL_THREAD,
    X32_BIT,
    ArchRules,
    Cond,
    Rule,
    RulesError,
    flags_of,
    reduce,
)

__all__ = ["Filter", "compile_filter"]

_ARG = 16
Outcome = tuple[str, int]  # ("ret", action) | ("rules", nr)


def compile_filter(seccomp: dict[str, Any]) -> Filter:
    """Compile an OCI seccomp config; RulesError for what runc would refuse."""
    flags = flags_of(seccomp)
    default, archs = reduce(seccomp)
    asm = Assembler()
    by_name = {a.name: a for a in archs}
    bad_arch = asm.new_label("badarch")
    not64 = asm.new_label("not-x86_64")
    asm.load(4)
    asm.jump(JEQ, AUDIT_ARCH_X86_64, None, not64)
    asm.load(0)
    x32 = asm.new_label("x32") if "x32" in by_name else bad_arch
    asm.jump(JSET, X32_BIT, x32, None)
    _dispatch(asm, by_name["x86_64"], default, wide=True)
    if "x32" in by_name:
        asm.label(x32)
        _dispatch(asm, by_name["x32"], default, wide=False)
    asm.label(not64)
    if "i386" in by_name:
        a32 = asm.new_label("i386")
        asm.jump(JEQ, AUDIT_ARCH_I386, a32, bad_arch)
        asm.label(a32)
        asm.load(0)
        _dispatch(asm, by_name["i386"], default, wide=False)
    asm.label(bad_arch)
    asm.ret(RET_KILL_THREAD)
    try:
        return Filter(encode(asm.assemble()), flags)
    except ValueError as e:  # too many instructions for the kernel
        raise RulesError(str(e)) from None


def _intervals(ar: ArchRules, default: int) -> list[tuple[int, Outcome]]:
    """(first number, outcome) for consecutive intervals covering 0..2^32-1."""
    enosys: Outcome = ("ret", RET_ERRNO | ENOSYS)
    fallback: Outcome = ("ret", default)
    points: list[tuple[int, Outcome]] = []
    for nr in sorted(ar.rules):
        rules = ar.rules[nr]
        points.append((nr, ("ret", rules[0][1]) if not rules[0][0] else ("rules", nr)))
    out: list[tuple[int, Outcome]] = []

    def add(start: int, outcome: Outcome) -> None:
        if out and out[-1][1] == outcome and outcome[0] == "ret":
            return
        out.append((start, outcome))

    end = 0
    for nr, outcome in points:
        if nr > end:
            add(end, fallback)
        add(nr, outcome)
        end = nr + 1
    if ar.top < 0:
        add(end, fallback)
    elif ar.top < 0xFFFFFFFF:
        if ar.top + 1 > end:
            add(end, fallback)
        add(ar.top + 1, enosys)
    return out


def _dispatch(asm: Assembler, ar: ArchRules, default: int, *, wide: bool) -> None:
    """Binary search on the syscall number in A, then the outcome blocks."""
    intervals = _intervals(ar, default)
    targets: dict[Outcome, str] = {}

    def target(outcome: Outcome) -> str:
        if outcome not in targets:
            targets[outcome] = asm.new_label(f"{ar.name}-{outcome[0]}")
        return targets[outcome]

    def node(lo: int, hi: int, here: str | None) -> None:
        """Emit the search for intervals[lo:hi]; `here` is the label this code starts at (if any)."""
        if here is not None:
            asm.label(here)
        if hi - lo == 1:
            asm.goto(target(intervals[lo][1]))
            return
        mid = (lo + hi) // 2
        right = target(intervals[mid][1]) if hi - mid == 1 else asm.new_label("node")
        left = target(intervals[lo][1]) if mid - lo == 1 else None
        asm.jump(JGE, intervals[mid][0], right, left)
        if left is None:
            node(lo, mid, None)
        if hi - mid > 1:
            node(mid, hi, right)

    node(0, len(intervals), None)
    for outcome, label in targets.items():
        asm.label(label)
        if outcome[0] == "ret":
            asm.ret(outcome[1])
        else:
            _rules_block(asm, ar.rules[outcome[1]], default, wide)


def _rules_block(asm: Assembler, rules: list[Rule], default: int, wide: bool) -> None:
    for conds, action in rules:
        fail = asm.new_label("next")
        for cond in conds:
            _condition(asm, cond, fail, wide)
        asm.ret(action)
        asm.label(fail)
    asm.ret(default)


def _condition(asm: Assembler, cond: Cond, fail: str, wide: bool) -> None:
    """Fall through when `cond` holds for the syscall's argument, else jump to `fail`."""
    index, op, value, two = cond
    lo_off, hi_off = _ARG + 8 * index, _ARG + 8 * index + 4
    v_hi, v_lo = value >> 32 & 0xFFFFFFFF, value & 0xFFFFFFFF
    ok = asm.new_label("ok")
    if op == "SCMP_CMP_MASKED_EQ":
        if wide:
            asm.load(hi_off)
            asm.and_(v_hi)
            asm.jump(JEQ, two >> 32 & 0xFFFFFFFF, None, fail)
        asm.load(lo_off)
        asm.and_(v_lo)
        asm.jump(JEQ, two & 0xFFFFFFFF, ok, fail)
    elif op in ("SCMP_CMP_EQ", "SCMP_CMP_NE"):
        yes, no = (ok, fail) if op == "SCMP_CMP_EQ" else (fail, ok)
        if wide:
            asm.load(hi_off)
            asm.jump(JEQ, v_hi, None, no)
        asm.load(lo_off)
        asm.jump(JEQ, v_lo, yes, no)
    else:
        # GT: hi > v_hi, or hi == v_hi and lo > v_lo (GE/LT/LE alike); LT = not GE, LE = not GT
        strict = op in ("SCMP_CMP_GT", "SCMP_CMP_LE")
        yes, no = (ok, fail) if op in ("SCMP_CMP_GT", "SCMP_CMP_GE") else (fail, ok)
        if wide:
            lo_label = asm.new_label("lo")
            asm.load(hi_off)
            asm.jump(JGT, v_hi, yes, None)
            asm.jump(JEQ, v_hi, lo_label, no)
            asm.label(lo_label)
        asm.load(lo_off)
        asm.jump(JGT if strict else JGE, v_lo, yes, no)
    asm.label(ok)
