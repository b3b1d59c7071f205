"""Start-up benchmark: `run` of a busybox `true` under berth-runtime, runc and crun (median of N runs).

Run as root: .venv/bin/python bench/runtime_vs_runc.py [N]. Prints figures only; asserts nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from berth.kernel.mount import mount, umount2
from tests.rootfs import make_busybox_rootfs

LAUNCH = "from berth.runtime.cli import run_and_exit; run_and_exit()"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_bundle(tmp: str) -> str:
    lower, bundle = os.path.join(tmp, "lower"), os.path.join(tmp, "bundle")
    make_busybox_rootfs(lower)
    for d in ("upper", "work", "bundle/rootfs"):
        os.makedirs(os.path.join(tmp, d))
    data = f"lowerdir={lower},upperdir={tmp}/upper,workdir={tmp}/work"
    mount("overlay", os.path.join(bundle, "rootfs"), "overlay", 0, data)
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    cfg["process"].update(terminal=False, args=["/bin/true"])
    cfg["linux"]["cgroupsPath"] = f"/berthbench-{os.getpid()}/c"
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    return bundle


def measure(argv: list[str], n: int, env: dict[str, str] | None = None) -> tuple[float | None, str]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        res = subprocess.run([*argv, f"bench{i}"], capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
        if res.returncode != 0:
            return None, res.stderr.decode(errors="replace").strip()[-200:]
    return statistics.median(times) * 1000, f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    # byte-compile first, as an installed package is (this environment sets PYTHONDONTWRITEBYTECODE)
    subprocess.run([sys.executable, "-m", "compileall", "-q", f"{REPO}/berth"], check=True)
    tmp = tempfile.mkdtemp(prefix="berth-bench-")
    state = tempfile.mkdtemp(prefix="berth-bench-", dir="/run")  # state roots on tmpfs, as /run/runc is
    bundle = make_bundle(tmp)
    py = sys.executable
    nosite = dict(os.environ, PYTHONPATH=REPO)
    cases = [
        (
            "berth-runtime (python -m berth.runtime)",
            [py, "-m", "berth.runtime", "--root", f"{state}/s1", "run", "-b", bundle],
            None,
        ),
        (
            "berth-runtime (python -S, PYTHONPATH)",
            [py, "-S", "-m", "berth.runtime", "--root", f"{state}/s2", "run", "-b", bundle],
            nosite,
        ),
        (
            "berth-runtime (python -S -c, no runpy)",
            [py, "-S", "-c", LAUNCH, "--root", f"{state}/s5", "run", "-b", bundle],
            nosite,
        ),
        ("runc 1.1 (runc run)", ["runc", "--root", f"{state}/s3", "run", "-b", bundle], None),
        ("crun (crun run)", ["crun", "--root", f"{state}/s4", "run", "-b", bundle], None),
        ("python -S -c pass (interpreter floor)", [py, "-S", "-c", "pass"], None),
    ]
    try:
        print(f"median of {n} runs of `run` with /bin/true (busybox overlay bundle):")
        for name, argv, env in cases:
            if shutil.which(argv[0]) is None:
                print(f"  {name:45s} not installed")
                continue
            med, note = measure(argv, n, env)
            print(f"  {name:45s} " + (f"{med:6.1f} ms  ({note})" if med is not None else f"failed: {note}"))
    finally:
        umount2(os.path.join(bundle, "rootfs"), 2)
        for d in sorted(
            {f"/sys/fs/cgroup/{c}/berthbench-{os.getpid()}" for c in os.listdir("/sys/fs/cgroup")}
        ):
            if os.path.isdir(d):
                for sub in os.listdir(d):
                    if os.path.isdir(os.path.join(d, sub)):
                        os.rmdir(os.path.join(d, sub))
                os.rmdir(d)
        if os.path.isdir(f"/sys/fs/cgroup/berthbench-{os.getpid()}"):
            os.rmdir(f"/sys/fs/cgroup/berthbench-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
