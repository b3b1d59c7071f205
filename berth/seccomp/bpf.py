"""Classic BPF assembler with labels (seccomp layer): forward jumps resolved, far conditional jumps relaxed.

Conditional jumps in classic BPF reach at most 255 instructions ahead; `Assembler.assemble()` lays the program
out, and a conditional jump whose target is farther gets a trampoline (`jcond 0,1; ja T; ja F`), repeated until
every offset fits (sizes only grow, so it ends). Targets are labels; None means the next instruction.
"""

from __future__ import annotations

import struct

__all__ = [
    "ALU_AND", "Assembler", "JEQ", "JGE", "JGT", "JSET", "LD_ABS", "RET_K", "decode", "encode",
]

# linux/bpf_common.h
LD_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
ALU_AND = 0x04 | 0x50 | 0x00  # BPF_ALU | BPF_AND | BPF_K
JA = 0x05 | 0x00  # BPF_JMP | BPF_JA
JEQ = 0x05 | 0x10  # BPF_JMP | BPF_JEQ | BPF_K
JGT = 0x05 | 0x20
JGE = 0x05 | 0x30
JSET = 0x05 | 0x40
RET_K = 0x06 | 0x00  # BPF_RET | BPF_K
MAX_INSNS = 4096  # BPF_MAXINSNS

Insn = tuple[int, int, int, int]  # code, jt, jf, k


class _Jump:
    __slots__ = ("code", "jf", "jt", "k", "long_f", "long_t")

    def __init__(self, code: int, k: int, jt: str | None, jf: str | None) -> None:
        self.code, self.k, self.jt, self.jf = code, k, jt, jf
        self.long_t = self.long_f = False

    def size(self) -> int:
        return 1 + self.long_t + self.long_f


class Assembler:
    """Collects instructions and labels; `assemble()` gives the final program."""

    def __init__(self) -> None:
        self._items: list[Insn | _Jump | str] = []
        self._labels: set[str] = set()
        self._n = 0

    def new_label(self, hint: str = "L") -> str:
        self._n += 1
        return f"{hint}#{self._n}"

    def label(self, name: str) -> None:
        if name in self._labels:
            raise ValueError(f"label {name} placed twice")
        self._labels.add(name)
        self._items.append(name)

    def load(self, offset: int) -> None:
        self._items.append((LD_ABS, 0, 0, offset))

    def and_(self, k: int) -> None:
        self._items.append((ALU_AND, 0, 0, k & 0xFFFFFFFF))

    def ret(self, k: int) -> None:
        self._items.append((RET_K, 0, 0, k & 0xFFFFFFFF))

    def jump(self, code: int, k: int, jt: str | None, jf: str | None) -> None:
        """if (A <op> k) goto jt else goto jf."""
        self._items.append(_Jump(code, k & 0xFFFFFFFF, jt, jf))

    def goto(self, target: str) -> None:
        self._items.append(_Jump(JA, 0, target, None))

    def _layout(self) -> tuple[dict[str, int], list[int]]:
        labels: dict[str, int] = {}
        starts: list[int] = []
        pc = 0
        for item in self._items:
            starts.append(pc)
            if isinstance(item, str):
                labels[item] = pc
            elif isinstance(item, _Jump):
                pc += 1 if item.code == JA else item.size()
            else:
                pc += 1
        labels["__end__"] = pc
        return labels, starts

    def assemble(self) -> list[Insn]:
        while True:
            labels, starts = self._layout()
            grew = False
            for item, pc in zip(self._items, starts, strict=True):
                if isinstance(item, _Jump) and item.code != JA:
                    after = pc + item.size()
                    for side in ("t", "f"):
                        target = getattr(item, "j" + side)
                        dist = (labels[target] if target else after) - after
                        if dist < 0:
                            raise ValueError(f"backward jump to {target}")
                        if dist > 255 - 2 and not getattr(item, "long_" + side):
                            setattr(item, "long_" + side, True)
                            grew = True
            if not grew:
                return self._emit(labels, starts)

    def _emit(self, labels: dict[str, int], starts: list[int]) -> list[Insn]:
        out: list[Insn] = []
        for item, pc in zip(self._items, starts, strict=True):
            if isinstance(item, str):
                continue
            if not isinstance(item, _Jump):
                out.append(item)
                continue
            if item.code == JA:
                out.append((JA, 0, 0, labels[item.jt or "__end__"] - pc - 1))
                continue
            after = pc + item.size()
            tramps: list[Insn] = []
            offs = []
            for side, is_long in (("t", item.long_t), ("f", item.long_f)):
                target = getattr(item, "j" + side)
                dest = labels[target] if target else after
                if is_long:
                    slot = pc + 1 + len(tramps)
                    tramps.append((JA, 0, 0, dest - slot - 1))
                    offs.append(slot - pc - 1)
                else:
                    offs.append(dest - pc - 1)
            out.append((item.code, offs[0], offs[1], item.k))
            out.extend(tramps)
        if len(out) > MAX_INSNS:
            raise ValueError(f"seccomp filter too large: {len(out)} instructions (the kernel takes {MAX_INSNS})")
        return out


def encode(program: list[Insn]) -> bytes:
    """struct sock_filter[] in this machine's byte order."""
    return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in program)


def decode(data: bytes) -> list[Insn]:
    """The inverse of `encode`."""
    return [struct.unpack_from("=HBBI", data, i) for i in range(0, len(data), 8)]
