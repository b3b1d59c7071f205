"""cloexec_from: every inherited fd from the given number up is closed by the exec, the ones below stay open."""

from __future__ import annotations

import os
import subprocess
import sys


def test_fds_from_first_close_on_exec_and_lower_ones_survive() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            low, high = os.dup2(w, 40, inheritable=True), os.dup2(w, 900, inheritable=True)
            from berth.kernel.fds import cloexec_from

            cloexec_from(41)
            # the exec'd interpreter reports which of the two fds it still has
            script = ("import os; print(' '.join(str(fd) for fd in (40, 900) "
                      "if os.path.exists(f'/proc/self/fd/{fd}')))")
            out = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True,
                                 close_fds=False).stdout
            os.write(w, out.encode() or b"-")
            os.close(low)
            os.close(high)
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 100).decode().split()
    os.close(r)
    os.waitpid(pid, 0)
    assert got == ["40"]
