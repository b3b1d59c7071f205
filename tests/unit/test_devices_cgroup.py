"""Device rules: the v1 model's reduction, v1 lines, and the eBPF filter's shape."""

from __future__ import annotations

import struct

from berth.daemon.containers.spec_linux import DEFAULT_DEVICE_RULES
from berth.kernel.bpf_asm import Program
from berth.runtime.cgroups.devices import WILDCARD, Rule, device_program, reduce, rules_from_spec


def _docker() -> list[dict[str, object]]:
    return [dict(r) for r in DEFAULT_DEVICE_RULES]


def test_docker_defaults_reduce_to_an_allowlist() -> None:
    default_allow, exc = reduce(rules_from_spec(_docker()))
    assert default_allow is False
    lines = [r.v1_line() for r in exc]
    assert {"c 1:3 rwm", "c *:* m", "b *:* m", "c 136:* rwm"} <= set(lines)
    assert all(r.allow for r in exc)
    assert not any(line.startswith("c 10:229") for line in lines)


def test_privileged_allow_all() -> None:
    default_allow, exc = reduce(rules_from_spec([{"allow": True, "access": "rwm"}]))
    assert (default_allow, exc) == (True, [])


def test_deny_takes_access_back_out() -> None:
    rules = [Rule(False, "a", WILDCARD, WILDCARD, "rwm"), Rule(True, "c", 1, 3, "rwm"), Rule(False, "c", 1, 3, "w")]
    assert reduce(rules) == (False, [Rule(True, "c", 1, 3, "rm")])


def test_spec_defaults_and_wildcards() -> None:
    got = rules_from_spec([{"allow": False}, {"allow": True, "type": "b", "major": 8, "access": "r"}])
    assert got[0] == Rule(False, "a", WILDCARD, WILDCARD, "rwm")
    assert got[1] == Rule(True, "b", 8, WILDCARD, "r")


def _run(code: bytes, kind: int, access: int, major: int, minor: int) -> int:
    """A minimal interpreter for the instructions the filter uses."""
    regs = [0] * 11
    ctx = struct.pack("<III", (access << 16) | kind, major, minor)
    pc = 0
    while True:
        op, regs_b, off, imm = struct.unpack_from("<BBhi", code, pc * 8)
        dst, src = regs_b & 0xF, regs_b >> 4
        pc += 1
        if op == 0x61:
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == 0x54:
            regs[dst] &= imm & 0xFFFFFFFF
        elif op == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif op == 0xBC:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif op == 0xB7:
            regs[dst] = imm
        elif op == 0x55:
            pc += off if regs[dst] != imm else 0
        elif op == 0x5D:
            pc += off if regs[dst] != regs[src] else 0
        elif op == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


def test_filter_allows_and_denies_like_the_rules() -> None:
    code = device_program(*reduce(rules_from_spec(_docker())))
    blk, chr_ = 1, 2
    mknod, read, write = 1, 2, 4
    assert _run(code, chr_, read | write, 1, 3) == 1  # /dev/null
    assert _run(code, blk, mknod, 8, 1) == 1  # mknod any block device
    assert _run(code, blk, read, 8, 1) == 0  # but not open it
    assert _run(code, chr_, read | write, 10, 229) == 0  # fuse
    assert _run(code, chr_, read | write, 136, 7) == 1  # a pty


def test_unknown_label_is_an_error() -> None:
    p = Program()
    p.jne_imm(0, 1, "nowhere")
    try:
        p.assemble()
    except ValueError:
        return
    raise AssertionError("expected ValueError")
