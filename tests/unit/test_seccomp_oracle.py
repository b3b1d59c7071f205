"""Oracles for the seccomp compiler's tests (no tests here): a plain reference evaluator, and libseccomp (ctypes)."""

from __future__ import annotations

import ctypes
import tempfile
from typing import Any

from berth.seccomp import tables
from berth.seccomp.bpf import Insn, decode
from berth.seccomp.rules import ACTIONS, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_BIT

ALLOW, EPERM_RET, ENOSYS_RET, KILL_THREAD = 0x7FFF0000, 0x50001, 0x50026, 0
ABIS = {"x86_64": (AUDIT_ARCH_X86_64, tables.X86_64), "x32": (AUDIT_ARCH_X86_64, tables.X32),
        "i386": (AUDIT_ARCH_I386, tables.I386)}
_SCMP = {"SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X86": "i386", "SCMP_ARCH_X32": "x32"}
_M64 = 2**64 - 1


def _action(name: str, errno: int | None) -> int:
    v = ACTIONS[name]
    return v | ((1 if errno is None else errno) & 0xFFFF) if v in (0x50000, 0x7FF00000) else v


def _holds(op: str, arg: int, value: int, two: int, wide: bool) -> bool:
    if not wide:
        arg, value, two = arg & 0xFFFFFFFF, value & 0xFFFFFFFF, two & 0xFFFFFFFF
    return {"SCMP_CMP_EQ": arg == value, "SCMP_CMP_NE": arg != value, "SCMP_CMP_LT": arg < value,
            "SCMP_CMP_LE": arg <= value, "SCMP_CMP_GT": arg > value, "SCMP_CMP_GE": arg >= value,
            "SCMP_CMP_MASKED_EQ": arg & value == two}[op]


def expected(sc: dict[str, Any], abi: str, nr: int, args: tuple[int, ...]) -> int:
    """What runc + libseccomp make of syscall `nr` on `abi` with `args`, written the plain way."""
    if abi in ("x86_64", "x32"):  # one audit arch: the x32 bit of the number picks the ABI
        abi = "x32" if nr & X32_BIT else "x86_64"
    default = _action(sc["defaultAction"], sc.get("defaultErrnoRet"))
    listed = {"x86_64"} | {_SCMP[a] for a in sc.get("architectures") or [] if a in _SCMP}
    if abi not in listed:
        return KILL_THREAD
    table = ABIS[abi][1]
    wide = abi == "x86_64"
    args = (tuple(args) + (0,) * 6)[:6]
    conditional: list[tuple[list[tuple[int, str, int, int]], int]] = []
    top = -1
    for call in sc.get("syscalls") or []:
        action = _action(call["action"], call.get("errnoRet"))
        for name in call["names"]:
            if name not in table:
                continue
            top = max(top, table[name])
            if table[name] != nr or action == default:
                continue
            conds = [(a["index"], a["op"], a.get("value", 0), a.get("valueTwo", 0)) for a in call.get("args") or []]
            if not conds:
                return action  # the first unconditional rule wins
            idx = [c[0] for c in conds]
            conditional += [([c], action) for c in conds] if len(set(idx)) < len(idx) else [(conds, action)]
    for conds, action in conditional:
        if all(_holds(op, args[i], v, t, wide) for i, op, v, t in conds):
            return action
    lets_through = default in (ALLOW, 0x7FFC0000) or default & 0xFFFF0000 == 0x7FF00000
    if not lets_through and top >= 0 and nr > top:
        return ENOSYS_RET
    return default


def arg_samples(sc: dict[str, Any]) -> list[tuple[int, ...]]:
    """Argument vectors around every value the profile compares with (both words of 64-bit values)."""
    values = {0, 1, 0xFFFFFFFF, 1 << 32, _M64}
    for call in sc.get("syscalls") or []:
        for a in call.get("args") or []:
            for v in (a.get("value", 0), a.get("valueTwo", 0)):
                for d in (v, v + 1, v - 1, v ^ (1 << 33), v | (1 << 40), v & 0xFFFFFFFF, ~v & _M64):
                    values.add(d & _M64)
    samples: list[tuple[int, ...]] = [()]
    vs = sorted(values)
    for i, v in enumerate(vs):
        samples.append((v, vs[(i * 7 + 3) % len(vs)], v))
        samples.append((vs[(i * 5 + 1) % len(vs)], v, 0, v))
    return samples


# -- libseccomp -------------------------------------------------------------------------------------
class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_SCMP_TOKENS = {"SCMP_ARCH_X86": 0x40000003, "SCMP_ARCH_X32": 0x4000003E}


def libseccomp() -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def libseccomp_program(lib: ctypes.CDLL, sc: dict[str, Any]) -> list[Insn]:
    """The filter libseccomp builds for `sc` the way runc feeds it (without runc's ENOSYS stub)."""
    default = _action(sc["defaultAction"], sc.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    assert ctx
    try:
        for arch in sc.get("architectures") or []:
            if arch in _SCMP_TOKENS:
                assert lib.seccomp_arch_add(ctx, _SCMP_TOKENS[arch]) in (0, -17)
        for call in sc.get("syscalls") or []:
            action = _action(call["action"], call.get("errnoRet"))
            if action == default:
                continue
            for name in call["names"]:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == -1:
                    continue
                conds = [(a["index"], _OPS[a["op"]], a.get("value", 0), a.get("valueTwo", 0))
                         for a in call.get("args") or []]
                idx = [c[0] for c in conds]
                groups = [[c] for c in conds] if len(set(idx)) < len(idx) else [conds]
                for group in groups:
                    arr = (_ArgCmp * max(len(group), 1))(*[_ArgCmp(*c) for c in group])
                    rc = lib.seccomp_rule_add_array(ctx, action, nr, len(group), arr)
                    assert rc == 0, (name, rc)
        with tempfile.TemporaryFile() as f:
            assert lib.seccomp_export_bpf(ctx, f.fileno()) == 0
            f.seek(0)
            data = f.read()
    finally:
        lib.seccomp_release(ctx)
    return decode(data)


def libseccomp_names(lib: ctypes.CDLL, abi: str) -> dict[int, str]:
    """nr -> name for the names libseccomp resolves to the same number as our table does on `abi`."""
    lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    token = {"x86_64": 0xC000003E, "x32": 0x4000003E, "i386": 0x40000003}[abi]
    out = {}
    for name, nr in ABIS[abi][1].items():
        theirs = lib.seccomp_syscall_resolve_name_arch(token, name.encode())
        if theirs == nr or (abi == "x32" and theirs == nr & ~X32_BIT):
            out[nr] = name
    return out
