"""A tiny eBPF assembler (kernel layer): the handful of instructions a cgroup device filter needs."""

from __future__ import annotations

import struct

__all__ = ["Insn", "Program", "R0", "R1", "R2", "R3", "R4", "R5"]

R0, R1, R2, R3, R4, R5 = range(6)

_LDX_MEM_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_ALU32_AND_K = 0x54
_ALU32_RSH_K = 0x74
_ALU32_MOV_X = 0xBC
_ALU64_MOV_K = 0xB7
_JNE_K = 0x55
_JNE_X = 0x5D
_EXIT = 0x95


class Insn:
    """One 8-byte instruction; `target` names a label a jump goes to (resolved by Program.assemble)."""

    __slots__ = ("dst", "imm", "off", "op", "src", "target")

    def __init__(self, op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0, target: str = "") -> None:
        self.op, self.dst, self.src, self.off, self.imm, self.target = op, dst, src, off, imm, target

    def encode(self) -> bytes:
        return struct.pack("<BBhi", self.op, (self.src << 4) | self.dst, self.off, self.imm)


class Program:
    """Instructions and labels; `assemble` resolves jump targets into relative offsets."""

    def __init__(self) -> None:
        self.insns: list[Insn] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.insns)

    def load_u32(self, dst: int, src: int, off: int) -> None:
        self.insns.append(Insn(_LDX_MEM_W, dst, src, off))

    def and32(self, dst: int, imm: int) -> None:
        self.insns.append(Insn(_ALU32_AND_K, dst, imm=imm))

    def rsh32(self, dst: int, imm: int) -> None:
        self.insns.append(Insn(_ALU32_RSH_K, dst, imm=imm))

    def mov32_reg(self, dst: int, src: int) -> None:
        self.insns.append(Insn(_ALU32_MOV_X, dst, src))

    def mov_imm(self, dst: int, imm: int) -> None:
        self.insns.append(Insn(_ALU64_MOV_K, dst, imm=imm))

    def jne_imm(self, dst: int, imm: int, target: str) -> None:
        self.insns.append(Insn(_JNE_K, dst, imm=imm, target=target))

    def jne_reg(self, dst: int, src: int, target: str) -> None:
        self.insns.append(Insn(_JNE_X, dst, src, target=target))

    def exit(self) -> None:
        self.insns.append(Insn(_EXIT))

    def assemble(self) -> bytes:
        out = bytearray()
        for i, insn in enumerate(self.insns):
            if insn.target:
                if insn.target not in self.labels:
                    raise ValueError(f"unknown label {insn.target}")
                insn.off = self.labels[insn.target] - i - 1
            out += insn.encode()
        return bytes(out)
