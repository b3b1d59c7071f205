"""load_filter installs a program given as bytes or built beforehand (Program), in an unprivileged child."""

from __future__ import annotations

import os

import pytest

from berth.kernel import prctl
from berth.kernel.seccomp import SECCOMP_FILTER_FLAG_SPEC_ALLOW, Program, load_filter
from berth.seccomp.compile import compile_filter

_DENY_CHDIR = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["chdir"], "action": "SCMP_ACT_ERRNO"}]}


@pytest.mark.parametrize("prepared", [False, True])
def test_loaded_filter_denies_its_syscall_and_nothing_else(prepared: bool) -> None:
    filt = compile_filter(_DENY_CHDIR)
    program = Program(filt.program) if prepared else filt.program  # built in the parent, as exec does
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            prctl.set_no_new_privs()
            load_filter(program, SECCOMP_FILTER_FLAG_SPEC_ALLOW)
            try:
                os.chdir("/")
                verdict = b"chdir allowed"
            except PermissionError:
                verdict = b"chdir denied" if os.getcwd() else b"?"
            os.write(w, verdict)
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 100)
    os.close(r)
    os.waitpid(pid, 0)
    assert got == b"chdir denied"
