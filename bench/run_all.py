"""Every benchmark in turn (`make bench`); each prints its own figures and asserts nothing."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHES = (
    ["-m", "bench.engine"],
    ["-m", "bench.start_timeline"],
    ["-m", "bench.exec_breakdown"],
    ["bench/runtime_vs_runc.py"],
    ["bench/security_start.py"],
    ["-m", "bench.network"],
    ["-m", "bench.pull_push"],
    ["bench/registry_server.py"],
)


def main() -> int:
    failed = 0
    for args in BENCHES:
        print(f"\n== {' '.join(args)}", flush=True)
        failed += subprocess.run([sys.executable, *args], cwd=ROOT).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
