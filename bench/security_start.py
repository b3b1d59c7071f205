"""Cost of seccomp (and capabilities) on a container start: figures, not a timed test.

Run as root: .venv/bin/python bench/security_start.py [N]. Prints, for Docker's default profile: the daemon's
work per start (resolve the profile against the caps), the compile (once per profile, then cached), the
runtime's cache lookup (in-process, and in a fresh runtime process with its imports), the kernel load; then
the median `berth-runtime run` of /bin/true in a Docker-like bundle without a filter, with the default
filter, and with neither the filter nor the capability drop.
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
from tests.privileged.runtime.conftest import DOCKER_CAPS, docker_config
from tests.rootfs import make_busybox_rootfs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL_CAPS = __import__("berth.daemon.containers.spec_linux", fromlist=["x"]).all_capabilities()  # our bounding set


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.3f} ms (min {min(samples) * 1000:.3f})"


def timed(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t0)
    return out


def in_process(n: int) -> dict[str, object]:
    from berth.kernel.prctl import set_no_new_privs
    from berth.kernel.seccomp import load_filter
    from berth.seccomp.cache import cached_filter
    from berth.seccomp.compile import compile_filter
    from berth.seccomp.default import default_profile
    from berth.seccomp.profile import resolve

    sc = resolve(default_profile(), DOCKER_CAPS)
    assert sc is not None
    resolving = timed(lambda: resolve(default_profile(), DOCKER_CAPS), n)
    print(f"per start, in the daemon: resolve the default profile   {ms(resolving)}")
    compiling = timed(lambda: compile_filter(sc), max(3, n // 10))
    print(f"once per profile: compile to BPF                        {ms(compiling)}"
          f"  -> {len(compile_filter(sc))} instructions")
    cache = tempfile.mkdtemp(prefix="berth-bench-cache-", dir="/run")
    try:
        cached_filter(sc, cache)
        print(f"per start, in the runtime: cache key + read         {ms(timed(lambda: cached_filter(sc, cache), n))}")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    filt = compile_filter(sc)
    loads = []
    for _ in range(max(5, n // 10)):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            set_no_new_privs()
            t0 = time.perf_counter()
            load_filter(filt.program, filt.flags)
            os.write(w, repr(time.perf_counter() - t0).encode())
            os._exit(0)
        os.close(w)
        loads.append(float(os.read(r, 64)))
        os.close(r)
        os.waitpid(pid, 0)
    print(f"per start, in init: seccomp(SET_MODE_FILTER)            {ms(loads)}")
    return sc


_LOOKUP = """
import sys, time
from berth.runtime import jsonc
spec = jsonc.loads(open(sys.argv[1]).read())
t0 = time.perf_counter()
from berth.runtime.seccomp import prepare
prepare(spec, sys.argv[2])
print(time.perf_counter() - t0)
"""


def fresh_process_lookup(sc: dict[str, object], n: int) -> None:
    """The runtime's lookup in a new `python -S` (imports included): a cache miss (compile) and a hit."""
    res: dict[str, list[float]] = {"miss (compiles, once per profile)": [], "hit": []}
    env = dict(os.environ, PYTHONPATH=REPO)
    for _ in range(n):
        d = tempfile.mkdtemp(prefix="berth-bench-", dir="/run")
        try:
            path = os.path.join(d, "config.json")
            with open(path, "w") as f:
                json.dump({"linux": {"seccomp": sc}}, f)
            for times in res.values():
                out = subprocess.run([sys.executable, "-S", "-c", _LOOKUP, path, f"{d}/root"], env=env,
                                     capture_output=True, text=True, check=True)
                times.append(float(out.stdout))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    for name, times in res.items():
        print(f"per start, fresh runtime process: lookup {name:36s} {ms(times)}")


def bundle_with(tmp: str, name: str, lower: str, sc: dict[str, object] | None, caps: list[str]) -> str:
    base = os.path.join(tmp, name)
    for d in ("upper", "work", "rootfs"):
        os.makedirs(os.path.join(base, d))
    mount("overlay", os.path.join(base, "rootfs"), "overlay", 0,
          f"lowerdir={lower},upperdir={base}/upper,workdir={base}/work")
    cfg = docker_config(["/bin/true"], name, capabilities={k: caps for k in ("bounding", "effective", "permitted")})
    cfg["linux"]["cgroupsPath"] = f"/berthbench-{os.getpid()}/{name}"
    if sc is None:
        cfg["linux"].pop("seccomp", None)
    else:
        cfg["linux"]["seccomp"] = sc
    with open(os.path.join(base, "config.json"), "w") as f:
        json.dump(cfg, f)
    return base


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    subprocess.run([sys.executable, "-m", "compileall", "-q", f"{REPO}/berth"], check=True)
    sc = in_process(200)
    fresh_process_lookup(sc, 10)  # type: ignore[arg-type]
    tmp = tempfile.mkdtemp(prefix="berth-bench-")
    state = tempfile.mkdtemp(prefix="berth-bench-", dir="/run")
    lower = make_busybox_rootfs(os.path.join(tmp, "lower"))
    env = dict(os.environ, PYTHONPATH=REPO)
    cases = {
        "default seccomp + Docker's caps": bundle_with(tmp, "sc", lower, sc, DOCKER_CAPS),  # type: ignore[arg-type]
        "no seccomp + Docker's caps": bundle_with(tmp, "nosc", lower, None, DOCKER_CAPS),
        "no seccomp + every cap (no drop)": bundle_with(tmp, "none", lower, None, ALL_CAPS),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    try:
        for name, b in cases.items():  # warm: the first run compiles the filter into the cache
            res0 = subprocess.run([sys.executable, "-S", "-m", "berth.runtime", "--root", f"{state}/root", "run",
                                   "-b", b, "warm"], env=env, capture_output=True)
            if res0.returncode:
                raise SystemExit(f"{name}: {res0.stderr.decode()}")
        for i in range(n):
            for name, b in cases.items():
                t0 = time.perf_counter()
                res = subprocess.run([sys.executable, "-S", "-m", "berth.runtime", "--root", f"{state}/root", "run",
                                      "-b", b, f"c{i}"], env=env, capture_output=True)
                times[name].append(time.perf_counter() - t0)
                if res.returncode:
                    raise SystemExit(res.stderr.decode())
        print(f"median of {n} interleaved `berth-runtime run` of /bin/true (filter cached):")
        for name, t in times.items():
            print(f"  {name:40s} {ms(t)}")
        with_sc, base, no_drop = (statistics.median(t) * 1000 for t in times.values())
        print(f"  seccomp adds {with_sc - base:+.2f} ms; dropping caps adds {base - no_drop:+.2f} ms")
    finally:
        for b in cases.values():
            umount2(os.path.join(b, "rootfs"), 2)
        remove_cgroups(f"berthbench-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
