"""Engine benchmarks: run/exec latency and shim memory against a private berthd (prints figures only).

Usage: .venv/bin/python -m bench.engine [--runs N] [--no-dockerd] [--no-ksm]
Where dockerd is installed, the same commands also run against a sandboxed one (bench/dockerd.py; --no-dockerd
or BENCH_DOCKERD=0 skips it).
Shim memory is measured as the host has it, then with the kernel's same-page merging running (ksmd): the bench
switches ksmd on for that measurement and puts the host's settings back afterwards (--no-ksm skips it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from collections.abc import Iterator

from bench.dockerd import sandboxed_dockerd, wanted
from berth.daemon.config import DaemonConfig
from tests.daemon_harness import DOCKER, Daemon, running_daemon
from tests.rootfs import busybox_tar_bytes

BERTH = [os.path.join(os.path.dirname(sys.executable), "berth")]


def timed(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=env, capture_output=True)
        out.append((time.perf_counter() - t0) * 1000)
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr.decode()}")
    return out


def report(label: str, samples: list[float]) -> None:
    q = statistics.quantiles(samples, n=10) if len(samples) >= 2 else samples
    med = statistics.median(samples)
    print(f"{label:<48} median {med:7.1f} ms   p10 {q[0]:7.1f}   p90 {q[-1]:7.1f}   n={len(samples)}")


KSM = "/sys/kernel/mm/ksm"


@contextlib.contextmanager
def ksmd_running() -> Iterator[None]:
    """ksmd on, scanning fast, for the block; afterwards the host's run and pages_to_scan as they were (and,
    where ksmd was off, every page it merged split again, so that later figures are the host's own)."""
    saved = {}
    for knob in ("run", "pages_to_scan"):
        with open(f"{KSM}/{knob}") as f:
            saved[knob] = f.read().strip()
    try:
        for knob, value in (("pages_to_scan", "5000"), ("run", "1")):
            with open(f"{KSM}/{knob}", "w") as f:
                f.write(value)
        yield
    finally:
        restore = [("run", "2")] if saved["run"] == "0" else []  # 2: unmerge all, then stop
        for knob, value in [*restore, ("run", saved["run"]), ("pages_to_scan", saved["pages_to_scan"])]:
            with open(f"{KSM}/{knob}", "w") as f:
                f.write(value)


def await_full_scans(count: int, timeout: float = 120.0) -> None:
    """Until ksmd has scanned all mergeable memory `count` more times (merging needs two passes)."""
    def scans() -> int:
        with open(f"{KSM}/full_scans") as f:
            return int(f.read())

    target, deadline = scans() + count, time.monotonic() + timeout
    while scans() < target and time.monotonic() < deadline:
        time.sleep(0.5)


IDLE_WAIT = 2 * DaemonConfig().shim_idle_after + 1  # the workers of idle shims have handed over by then


def shim_memory(d: Daemon, running: int, note: str = "") -> None:
    """RSS and PSS of the shims of `d`'s running containers per container (PSS falls as more shims share
    pages): the sums over every shim process, the keeper and, while it lives, its worker (berth.shim.keeper)."""
    rss, pss = [], []
    for pid_dir in os.listdir("/proc"):
        if not pid_dir.isdigit():
            continue
        try:
            with open(f"/proc/{pid_dir}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid_dir}/comm", "rb") as f:
                comm = f.read().strip()
            # a shim is `python -m berth.shim ...` or, forked from the zygote, a keeper named berth-shim and
            # its worker, berth-shim-w
            ours = d.base.encode() in cmd or d.exec_root.encode() in cmd
            if (b"berth.shim" not in cmd and comm not in (b"berth-shim", b"berth-shim-w")) or not ours:
                continue
            with open(f"/proc/{pid_dir}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss.append(int(line.split()[1]))
                    elif line.startswith("Pss:"):
                        pss.append(int(line.split()[1]))
        except OSError:
            continue
    if rss:
        label = f"shim memory per container ({running} running{note})"
        print(f"{label:<48} RSS {sum(rss) / running / 1024:6.2f} MiB   "
              f"PSS {sum(pss) / running / 1024:6.2f} MiB   ({len(rss)} processes)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--no-dockerd", action="store_true", help="no comparison with a sandboxed dockerd")
    ap.add_argument("--no-ksm", action="store_true", help="do not switch ksmd on to measure shim memory with it")
    args = ap.parse_args()
    # the exec root on tmpfs, as /run/berth is on a real host (state files there cost no disk flushes)
    with tempfile.TemporaryDirectory() as tmp, running_daemon(exec_on_tmpfs=True, debug=False) as d:
        d.import_busybox(busybox_tar_bytes(tmp))
        env = d.env()
        # the CLI alone: how fast the machine is right now (the same VM's figures vary by a third with the hour)
        report("docker --version (the CLI alone, no daemon)", timed([DOCKER, "--version"], env, args.runs))
        timed([*BERTH, "run", "--rm", "busybox", "true"], env, 3)
        report("berth run --rm busybox true", timed([*BERTH, "run", "--rm", "busybox", "true"], env, args.runs))
        report("docker run --rm busybox true (berthd)",
               timed([DOCKER, "run", "--rm", "busybox", "true"], env, args.runs))
        cid = subprocess.run([*BERTH, "run", "-d", "busybox", "sleep", "1000"], env=env, capture_output=True,
                             text=True).stdout.strip()
        report("berth exec C true", timed([*BERTH, "exec", cid, "true"], env, args.runs))
        report("docker exec C true (berthd)", timed([DOCKER, "exec", cid, "true"], env, args.runs))
        subprocess.run([*BERTH, "rm", "-f", cid], env=env, capture_output=True)
        t0 = time.perf_counter()
        ids = [subprocess.run([*BERTH, "run", "-d", "busybox", "sleep", "1000"], env=env, capture_output=True,
                              text=True).stdout.strip() for _ in range(50)]
        print(f"{'50 x berth run -d busybox sleep 1000':<48} total {time.perf_counter() - t0:7.2f} s")
        shim_memory(d, 50, ", just started")
        time.sleep(IDLE_WAIT)
        shim_memory(d, 50, ", idle")
        if not args.no_ksm and os.path.isdir(KSM):
            with ksmd_running():
                await_full_scans(3)
                shim_memory(d, 50, ", ksmd on")
        subprocess.run([*BERTH, "rm", "-f", *ids[5:]], env=env, capture_output=True)
        shim_memory(d, 5)
        subprocess.run([*BERTH, "rm", "-f", *ids[:5]], env=env, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp, sandboxed_dockerd(wanted(args.no_dockerd)) as denv:
        if denv is not None:
            subprocess.run([DOCKER, "import", "-", "busybox:latest"], input=busybox_tar_bytes(tmp), env=denv,
                           check=True, capture_output=True)
            timed([DOCKER, "run", "--rm", "busybox", "true"], denv, 2)
            report("dockerd: docker run --rm busybox true", timed([DOCKER, "run", "--rm", "busybox", "true"], denv,
                                                                  args.runs))
            cid = subprocess.run([DOCKER, "run", "-d", "busybox", "sleep", "1000"], env=denv, capture_output=True,
                                 text=True).stdout.strip()
            report("dockerd: docker exec C true", timed([DOCKER, "exec", cid, "true"], denv, args.runs))
            subprocess.run([DOCKER, "rm", "-f", cid], env=denv, capture_output=True)

if __name__ == "__main__":
    main()
