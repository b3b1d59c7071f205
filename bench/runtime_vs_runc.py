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
from tests.daemon_harness import remove_cgroups
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


def run_once(argv: list[str], i: int, env: dict[str, str] | None) -> tuple[float, str | None]:
    t0 = time.perf_counter()
    res = subprocess.run([*argv, f"bench{i}"], capture_output=True, env=env)
    elapsed = time.perf_counter() - t0
    return elapsed, (res.stderr.decode(errors="replace").strip()[-200:] if res.returncode else None)


def set_config(bundle: str, args: list[str], cgroup: str) -> None:
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["process"]["args"] = args
    cfg["linux"]["cgroupsPath"] = f"/berthbench-{os.getpid()}/{cgroup}"
    with open(path, "w") as f:
        json.dump(cfg, f)


def bench_exec(bundle: str, state: str, n: int, ours: list[str], env: dict[str, str]) -> None:
    """`exec true` into a running container: ours against runc's."""
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    runtimes = {
        "berth-runtime exec (python -S)": [*ours, "--root", f"{state}/e1"],
        "runc exec": ["runc", "--root", f"{state}/e2"],
    }
    try:
        for i, argv in enumerate(runtimes.values()):
            set_config(bundle, ["sleep", "1000"], f"exec{i}")
            subprocess.run([*argv, "run", "-d", "-b", bundle, "sleeper"], check=True, env=env, **quiet)
        times: dict[str, list[float]] = {name: [] for name in runtimes}
        for _ in range(n):
            for name, argv in runtimes.items():
                t0 = time.perf_counter()
                subprocess.run([*argv, "exec", "sleeper", "true"], check=True, env=env, capture_output=True)
                times[name].append((time.perf_counter() - t0) * 1000)
        print(f"median of {n} interleaved `exec sleeper true` into a running container:")
        for name, t in times.items():
            print(f"  {name:45s} {statistics.median(t):6.1f} ms  (min {min(t):.1f}, max {max(t):.1f})")
    finally:
        for argv in runtimes.values():
            subprocess.run([*argv, "delete", "-f", "sleeper"], env=env, capture_output=True)


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
    cases = [c for c in cases if shutil.which(c[1][0])]
    times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    failed: dict[str, str] = {}
    try:
        for i in range(n):  # interleaved, so that load changes on the machine hit every case alike
            for name, argv, env in cases:
                if name in failed:
                    continue
                elapsed, err = run_once(argv, i, env)
                if err is not None:
                    failed[name] = err
                times[name].append(elapsed * 1000)
        print(f"median of {n} interleaved runs of `run` with /bin/true (busybox overlay bundle):")
        for name, _, _ in cases:
            if name in failed:
                print(f"  {name:45s} failed: {failed[name]}")
                continue
            t = times[name]
            print(f"  {name:45s} {statistics.median(t):6.1f} ms  (min {min(t):.1f}, max {max(t):.1f})")
        bench_exec(bundle, state, n, [py, "-S", "-m", "berth.runtime"], nosite)
    finally:
        umount2(os.path.join(bundle, "rootfs"), 2)
        remove_cgroups(f"berthbench-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
