"""The BPF compiler, run in the interpreter: against a plain reference evaluator, against libseccomp's own
filters for the same profiles, and runc's refusals."""

from __future__ import annotations

import random
from typing import Any

import pytest

from berth.seccomp import tables
from berth.seccomp.bpf import JEQ, Assembler, decode
from berth.seccomp.compile import compile_filter
from berth.seccomp.default import default_profile
from berth.seccomp.interp import run, seccomp_data
from berth.seccomp.profile import resolve
from berth.seccomp.rules import RulesError
from tests.unit.test_seccomp_oracle import ABIS, ENOSYS_RET, arg_samples, expected, libseccomp, libseccomp_names
from tests.unit.test_seccomp_oracle import libseccomp_program as lsc_program
from tests.unit.test_seccomp_profile import DOCKER_CAPS

ALLOW, EPERM = 0x7FFF0000, 0x50001


def verdict(prog: list[Any], abi: str, nr: int, args: tuple[int, ...] = ()) -> int:
    return run(prog, seccomp_data(nr, ABIS[abi][0], args))


def check_against_reference(sc: dict[str, Any], nrs: dict[str, list[int]], most: int = 10_000) -> int:
    prog = decode(compile_filter(sc).program)
    samples = arg_samples(sc)
    if len(samples) > most:
        samples = random.Random(len(samples)).sample(samples, most)
    n = 0
    for abi, numbers in nrs.items():
        for nr in numbers:
            for args in samples:
                assert verdict(prog, abi, nr, args) == expected(sc, abi, nr, args), (abi, nr, args)
                n += 1
    return n


def docker(caps: list[str]) -> dict[str, Any]:
    sc = resolve(default_profile(), caps, kernel=(6, 1))
    assert sc is not None
    return sc


ALL_NRS = {"x86_64": [*range(0, 480), 512, 547, 0x3FFFFFFF, 0x80000000, 0xFFFFFFFF],
           "x32": [0x40000000 + n for n in (*range(0, 480), *range(512, 560))],
           "i386": [*range(0, 480), 0xFFFFFFFF]}


@pytest.mark.parametrize("caps", [DOCKER_CAPS, [*DOCKER_CAPS, "CAP_SYS_ADMIN"], []], ids=["docker", "admin", "none"])
def test_default_profile_matches_the_reference(caps: list[str]) -> None:
    sc = docker(caps)
    small = {abi: nrs for abi, nrs in ALL_NRS.items()}
    with_args = {abi: [ABIS[abi][1][n] for n in ("clone", "personality", "socket", "clone3", "read")
                       if n in ABIS[abi][1]] for abi in ABIS}
    prog = decode(compile_filter(sc).program)
    for abi, numbers in small.items():
        for nr in numbers:
            assert verdict(prog, abi, nr) == expected(sc, abi, nr, ()), (abi, nr)
    assert check_against_reference(sc, with_args) > 1000


def test_default_profile_facts() -> None:
    prog = decode(compile_filter(docker(DOCKER_CAPS)).program)
    x = tables.X86_64
    assert verdict(prog, "x86_64", x["read"]) == ALLOW
    assert verdict(prog, "x86_64", x["unshare"], (0x10000000,)) == EPERM
    assert verdict(prog, "x86_64", x["clone"], (0x10000000 | 17,)) == EPERM
    assert verdict(prog, "x86_64", x["clone"], (0x01200011,)) == ALLOW  # fork(): CLONE_CHILD_* | SIGCHLD
    assert verdict(prog, "x86_64", x["clone3"]) == ENOSYS_RET
    assert verdict(prog, "x86_64", x["socket"], (40, 1, 0)) == EPERM
    assert verdict(prog, "x86_64", x["socket"], (40 | 1 << 32, 1, 0)) == ALLOW  # a 64-bit argument: both words
    assert verdict(prog, "i386", tables.I386["socket"], (40 | 1 << 32,)) == EPERM  # 32-bit ABI: the low word
    assert verdict(prog, "x86_64", x["personality"], (0xFFFFFFFF,)) == ALLOW
    assert verdict(prog, "x86_64", x["personality"], (0xFFFFFFFFFFFFFFFF,)) == EPERM
    assert verdict(prog, "x86_64", 1000) == ENOSYS_RET
    assert verdict(prog, "x86_64", x["keyctl"]) == EPERM
    assert run(prog, seccomp_data(0, 0xC00000B7)) == 0  # aarch64 on this machine: killed
    assert len(decode(compile_filter(docker(DOCKER_CAPS)).program)) < 600


OPS = ("SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ")


def random_profile(rng: random.Random) -> dict[str, Any]:
    names = list(tables.X86_64)
    actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_LOG",
               "SCMP_ACT_TRACE", "SCMP_ACT_KILL"]
    interesting = [0, 1, 40, 0xFFFFFFFF, 1 << 32, (1 << 32) + 5, 0x7E020000, 2**63, 2**64 - 1]
    calls = []
    for _ in range(rng.randint(1, 40)):
        call: dict[str, Any] = {"names": rng.sample(names, rng.randint(1, 30)), "action": rng.choice(actions)}
        if rng.random() < 0.5:
            call["names"] = call["names"][:4]
            call["errnoRet"] = rng.randint(1, 200)
            call["args"] = [{"index": rng.randint(0, 2), "op": rng.choice(OPS), "value": rng.choice(interesting),
                             "valueTwo": rng.choice(interesting)} for _ in range(rng.randint(1, 3))]
        calls.append(call)
    sc: dict[str, Any] = {"defaultAction": rng.choice(actions[:3]), "syscalls": calls}
    if rng.random() < 0.5:
        sc["defaultErrnoRet"] = rng.randint(1, 100)
    sc["architectures"] = rng.sample(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
                                     rng.randint(0, 4))
    return sc


@pytest.mark.parametrize("seed", range(20))
def test_random_profiles_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    sc = random_profile(rng)
    nrs: dict[str, list[int]] = {}
    for abi, (_, table) in ABIS.items():
        named = sorted({table[n] for c in sc["syscalls"] for n in c["names"] if n in table})
        nrs[abi] = named + [rng.randrange(0, 600) for _ in range(20)] + [0xFFFFFFFF]
        if abi == "x32":
            nrs[abi] = [n | 0x40000000 for n in nrs[abi]]
    check_against_reference(sc, nrs, most=24)


def test_long_allowlists_need_far_jumps_and_still_work() -> None:
    names = sorted(tables.X86_64, key=tables.X86_64.__getitem__)
    calls = [{"names": [n], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "SCMP_CMP_GT", "value": i}]}
             for i, n in enumerate(names[::2])]
    sc = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": calls}
    assert len(compile_filter(sc)) > 1000
    check_against_reference(sc, {"x86_64": [tables.X86_64[n] for n in names[:60]] + [999]}, most=40)


def test_assembler_relaxes_far_conditional_jumps() -> None:
    asm = Assembler()
    far = asm.new_label("far")
    asm.load(0)
    asm.jump(JEQ, 7, far, None)
    for _ in range(300):
        asm.ret(1)
    asm.label(far)
    asm.ret(2)
    prog = asm.assemble()
    assert len(prog) == 304  # load, jeq, one trampoline, 300 + 1 returns
    assert run(prog, seccomp_data(7, 0)) == 2
    assert run(prog, seccomp_data(8, 0)) == 1


@pytest.mark.parametrize(("sc", "message"), [
    ({"defaultAction": "SCMP_ACT_FOO"}, "string SCMP_ACT_FOO is not a valid action for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "BAD"}]},
     "string BAD is not a valid action for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]},
     "string SCMP_ARCH_PDP11 is not a valid arch for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]},
     "seccomp flag SECCOMP_FILTER_FLAG_FAST is not known to the runtime"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 0, "op": "SCMP_CMP_ABOUT"}]}]},
     "string SCMP_CMP_ABOUT is not a valid operator for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [""], "action": "SCMP_ACT_ERRNO"}]},
     "empty string is not a valid syscall"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]},
     "SCMP_ACT_NOTIFY is not supported"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}, "SCMP_ACT_NOTIFY is not supported"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]},
     "argument index 6 out of range"),
])
def test_refusals(sc: dict[str, Any], message: str) -> None:
    with pytest.raises(RulesError, match=message.replace("(", r"\(")):
        compile_filter(sc)


def test_unknown_syscall_names_are_skipped_like_runc() -> None:
    sc = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["no_such_syscall", "arm_fadvise64_64", "write"], "action": "SCMP_ACT_ALLOW"}]}
    prog = decode(compile_filter(sc).program)
    assert verdict(prog, "x86_64", 1) == ALLOW
    assert verdict(prog, "x86_64", 0) == EPERM
    assert verdict(prog, "x86_64", 2) == ENOSYS_RET  # above the highest syscall the profile names


def test_flags_default_to_spec_allow_like_runc() -> None:
    assert compile_filter({"defaultAction": "SCMP_ACT_ALLOW"}).flags == 4
    assert compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "flags": []}).flags == 0
    assert compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG",
                                                                        "SECCOMP_FILTER_FLAG_TSYNC"]}).flags == 2


# -- libseccomp as the oracle ------------------------------------------------------------------------
LIB = libseccomp()
needs_lib = pytest.mark.skipif(LIB is None, reason="libseccomp.so.2 is not installed")


def compare_with_libseccomp(sc: dict[str, Any]) -> int:
    assert LIB is not None
    ours = decode(compile_filter(sc).program)
    theirs = lsc_program(LIB, sc)
    samples = arg_samples(sc)
    n = 0
    for abi in ("x86_64", "x32", "i386"):
        if abi != "x86_64" and {"x32": "SCMP_ARCH_X32", "i386": "SCMP_ARCH_X86"}[abi] not in (
                sc.get("architectures") or []):
            continue
        known = libseccomp_names(LIB, abi)
        table = ABIS[abi][1]
        top = max((table[name] for c in sc.get("syscalls") or [] for name in c["names"] if name in table), default=-1)
        with_args = {n for c in sc.get("syscalls") or [] if c.get("args") for n in c["names"]}
        for nr in sorted(known):
            for args in samples if known[nr] in with_args else [(), samples[nr % len(samples)]]:
                want = run(theirs, seccomp_data(nr, ABIS[abi][0], args))
                got = run(ours, seccomp_data(nr, ABIS[abi][0], args))
                if got == ENOSYS_RET and nr > top:
                    continue  # runc's ENOSYS stub, which libseccomp alone does not have
                assert got == want, (abi, nr, known[nr], args, hex(got), hex(want))
                n += 1
    return n


@needs_lib
@pytest.mark.parametrize("caps", [DOCKER_CAPS, [*DOCKER_CAPS, "CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]],
                         ids=["docker", "admin"])
def test_default_profile_matches_libseccomp(caps: list[str]) -> None:
    assert compare_with_libseccomp(docker(caps)) > 1000


@needs_lib
def test_every_operator_matches_libseccomp() -> None:
    values = [0, 5, 0xFFFFFFFF, 1 << 32, (7 << 32) | 9, 2**63 + 3]
    calls = []
    names = ["read", "write", "open", "close", "stat", "fstat", "lstat", "poll", "lseek", "mmap", "mprotect",
             "munmap", "brk", "ioctl", "pread64", "pwrite64", "readv", "writev", "access", "pipe", "select",
             "sched_yield", "mremap", "msync", "mincore", "madvise", "shmget", "shmat", "shmctl", "dup", "dup2",
             "pause", "nanosleep", "getitimer", "alarm", "setitimer", "getpid", "sendfile", "socket", "connect",
             "accept", "sendto"]
    it = iter(names)
    for op in OPS:
        for v in values:
            calls.append({"names": [next(it)], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
                          "args": [{"index": 1, "op": op, "value": v, "valueTwo": v & 0xF0000000F}]})
    sc = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": calls}
    assert compare_with_libseccomp(sc) > 500


@needs_lib
@pytest.mark.parametrize("calls", [
    [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
     {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}],
    [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
      "args": [{"index": 1, "op": "SCMP_CMP_EQ", "value": 5}]},
     {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}],
    [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
      "args": [{"index": 1, "op": "SCMP_CMP_EQ", "value": 5}]},
     {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
      "args": [{"index": 1, "op": "SCMP_CMP_GE", "value": 3}]}],
    [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
      "args": [{"index": 1, "op": "SCMP_CMP_EQ", "value": 5}, {"index": 1, "op": "SCMP_CMP_EQ", "value": 9}]}],
], ids=["first-unconditional-wins", "unconditional-beats-conditional", "conditions-in-order", "same-arg-is-or"])
def test_rules_of_one_syscall_combine_like_libseccomp(calls: list[dict[str, Any]]) -> None:
    assert compare_with_libseccomp({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": calls}) > 10
