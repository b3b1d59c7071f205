"""A classic BPF interpreter for seccomp programs (seccomp layer): runs a filter on a seccomp_data in-process.

Used by the tests as the oracle for the compiler (and to compare with libseccomp's output), gVisor style.
Covers the instructions seccomp accepts: LD/LDX (W ABS, IMM, MEM, LEN), ST/STX, ALU, JMP, RET, MISC.
"""

from __future__ import annotations

import struct

from berth.seccomp.bpf import Insn

__all__ = ["run", "seccomp_data"]

_M = 0xFFFFFFFF


def seccomp_data(nr: int, arch: int, args: tuple[int, ...] = (), ip: int = 0) -> bytes:
    """struct seccomp_data for a syscall."""
    padded = (list(args) + [0] * 6)[:6]
    return struct.pack("<iIQ6Q", nr if nr < 2**31 else nr - 2**32, arch, ip, *[a & 0xFFFFFFFFFFFFFFFF for a in padded])


def _alu(op: int, a: int, b: int) -> int:
    if op == 0x00:
        return (a + b) & _M
    if op == 0x10:
        return (a - b) & _M
    if op == 0x20:
        return (a * b) & _M
    if op == 0x30:
        if b == 0:
            raise ZeroDivisionError("BPF division by zero")
        return a // b
    if op == 0x40:
        return a | b
    if op == 0x50:
        return a & b
    if op == 0x60:
        return (a << b) & _M if b < 32 else 0
    if op == 0x70:
        return a >> b if b < 32 else 0
    if op == 0x80:
        return -a & _M
    if op == 0x90:
        return a % b
    if op == 0xA0:
        return a ^ b
    raise ValueError(f"bad ALU op {op:#x}")


def run(program: list[Insn], data: bytes) -> int:
    """The value the program returns for `data` (a seccomp_data)."""
    a = x = 0
    mem = [0] * 16
    pc = 0
    while True:
        if pc >= len(program):
            raise ValueError("fell off the end of the program")
        code, jt, jf, k = program[pc]
        pc += 1
        cls = code & 0x07
        if cls in (0x00, 0x01):  # LD, LDX
            mode = code & 0xE0
            if mode == 0x20:
                if k % 4 or k + 4 > len(data):
                    raise ValueError(f"bad load offset {k}")
                val = struct.unpack_from("<I", data, k)[0]
            elif mode == 0x00:
                val = k
            elif mode == 0x60:
                val = mem[k]
            elif mode == 0x80:
                val = len(data)
            else:
                raise ValueError(f"bad load mode {code:#x}")
            if cls == 0x00:
                a = val
            else:
                x = val
        elif cls == 0x02:
            mem[k] = a
        elif cls == 0x03:
            mem[k] = x
        elif cls == 0x04:
            a = _alu(code & 0xF0, a, x if code & 0x08 else k)
        elif cls == 0x05:
            op = code & 0xF0
            if op == 0x00:
                pc += k
                continue
            b = x if code & 0x08 else k
            taken = {0x10: a == b, 0x20: a > b, 0x30: a >= b, 0x40: bool(a & b)}[op]
            pc += jt if taken else jf
        elif cls == 0x06:
            return a if code & 0x18 == 0x10 else k
        else:
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
