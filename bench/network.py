"""Network benchmarks against a private berthd with its own bridge (prints figures only).

Usage: .venv/bin/python -m bench.network [--runs N] [--requests N] [--no-dockerd]
  - `run -d -p H:80 busybox httpd` to the first HTTP 200 through the published port;
  - requests/s through the published port (DNAT to the bridge) vs the same httpd on the host network (`ab`);
  - the cost networking adds to a start: `run --rm busybox true` on the default bridge vs --network none.
Where dockerd is installed, the first two also run against a sandboxed one (bench/dockerd.py; --no-dockerd or
BENCH_DOCKERD=0 skips it).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.dockerd import sandboxed_dockerd, wanted
from tests.daemon_harness import DOCKER, Daemon, running_daemon
from tests.rootfs import busybox_tar_bytes

BERTH = [os.path.join(os.path.dirname(sys.executable), "berth")]
HTTPD = ["sh", "-c", "mkdir -p /w && head -c 1024 /dev/zero > /w/i && httpd -f -p {port} -h /w"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_200(url: str, t0: float) -> float:
    """ms from t0 to the first HTTP 200 from url."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return (time.perf_counter() - t0) * 1000
        except OSError:
            time.sleep(0.002)
        if time.perf_counter() - t0 > 30:
            raise SystemExit(f"{url} never answered")


def ab(url: str, requests: int) -> float:
    if shutil.which("ab") is None:
        return float("nan")
    out = subprocess.run(["ab", "-q", "-n", str(requests), "-c", "8", url], capture_output=True, text=True).stdout
    m = re.search(r"Requests per second:\s+([\d.]+)", out)
    return float(m.group(1)) if m else float("nan")


def berth(d: Daemon, *args: str) -> str:
    res = subprocess.run([*BERTH, *args], env=d.env(), capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"berth {' '.join(args)}: {res.stderr}")
    return res.stdout.strip()


def timed_runs(d: Daemon, extra: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        berth(d, "run", "--rm", *extra, "busybox", "true")
        out.append((time.perf_counter() - t0) * 1000)
    return out


def daemon_figures(log_file: str) -> tuple[float, float]:
    """Medians of the setup and teardown durations berthd logs (with --debug)."""
    with open(log_file) as f:
        text = f.read()
    setup = [float(x) for x in re.findall(r"network setup of \w+: ([\d.]+) ms", text)]
    down = [float(x) for x in re.findall(r"network teardown of \w+: ([\d.]+) ms", text)]
    return (statistics.median(setup) if setup else float("nan"), statistics.median(down) if down else float("nan"))


def docker(env: dict[str, str], *args: str) -> str:
    res = subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)}: {res.stderr}")
    return res.stdout.strip()


def first_200s(env: dict[str, str], runs: int) -> list[float]:
    """The issue's `docker run -d -p H:80 busybox httpd -f -p 80` to the first HTTP 200 on 127.0.0.1:H, in ms
    (httpd serves the container's /, so /etc/hostname answers 200)."""
    starts = []
    for _ in range(max(3, runs // 2)):
        port = free_port()
        t0 = time.perf_counter()
        cid = docker(env, "run", "-d", "-p", f"{port}:80", "busybox", "httpd", "-f", "-p", "80")
        starts.append(first_200(f"http://127.0.0.1:{port}/etc/hostname", t0))
        docker(env, "rm", "-f", cid)
    return starts


def published_vs_host(env: dict[str, str], requests: int) -> tuple[float, float]:
    """Median req/s of `ab` through a published port and to the same httpd on the host network, in turns."""
    port, hport = free_port(), free_port()
    cid = docker(env, "run", "-d", "-p", f"{port}:80", "busybox", *[a.format(port=80) for a in HTTPD])
    hcid = docker(env, "run", "-d", "--network", "host", "busybox", *[a.format(port=hport) for a in HTTPD])
    try:
        first_200(f"http://127.0.0.1:{port}/i", time.perf_counter())
        first_200(f"http://127.0.0.1:{hport}/i", time.perf_counter())
        published, host = [], []
        for _ in range(5):
            published.append(ab(f"http://127.0.0.1:{port}/i", requests))
            host.append(ab(f"http://127.0.0.1:{hport}/i", requests))
        return statistics.median(published), statistics.median(host)
    finally:
        docker(env, "rm", "-f", cid)
        docker(env, "rm", "-f", hcid)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--no-dockerd", action="store_true", help="no comparison with a sandboxed dockerd")
    args = ap.parse_args()
    tag = uuid.uuid4().hex[:6]
    bridge, table = f"bb{tag}", f"berth_b{tag}"
    bip = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.1/24"
    net_args = ["--bridge", bridge, "--bip", bip, "--nft-table", table]
    try:
        with tempfile.TemporaryDirectory() as tmp, running_daemon(net_args, exec_on_tmpfs=True, debug=False) as d:
            d.import_busybox(busybox_tar_bytes(tmp))
            berth(d, "run", "--rm", "busybox", "true")  # warm-up
            none = timed_runs(d, ["--network", "none"], args.runs)
            bridged = timed_runs(d, [], args.runs)
            print(f"{'run --rm busybox true, --network none':<52} median {statistics.median(none):7.1f} ms")
            print(f"{'run --rm busybox true, default bridge':<52} median {statistics.median(bridged):7.1f} ms")
            print(f"{'  difference (noisy: includes the kernel netns work)':<52} "
                  f"{statistics.median(bridged) - statistics.median(none):+7.1f} ms")
            setup, teardown = daemon_figures(d.log_file)
            print(f"{'  network setup in berthd (netns + veth + addresses)':<52} median {setup:7.1f} ms")
            print(f"{'  network teardown in berthd':<52} median {teardown:7.1f} ms")
            starts = first_200s(d.env(), args.runs)
            print(f"{'docker run -d -p H:80 busybox httpd -> first HTTP 200':<52} "
                  f"median {statistics.median(starts):7.1f} ms")
            published, host = published_vs_host(d.env(), args.requests)
            print(f"{'ab -c 8 through the published port (DNAT)':<52} {published:9.0f} req/s")
            print(f"{'ab -c 8 same httpd on the host network':<52} {host:9.0f} req/s   "
                  f"ratio {published / host:5.2f}")
        with tempfile.TemporaryDirectory() as tmp, sandboxed_dockerd(wanted(args.no_dockerd)) as denv:
            if denv is not None:
                subprocess.run([DOCKER, "import", "-", "busybox:latest"], input=busybox_tar_bytes(tmp), env=denv,
                               check=True, capture_output=True)
                dstarts = first_200s(denv, args.runs)
                print(f"{'dockerd: docker run -d -p H:80 busybox httpd -> 200':<52} "
                      f"median {statistics.median(dstarts):7.1f} ms   "
                      f"berthd/dockerd {statistics.median(starts) / statistics.median(dstarts):5.2f}")
                dpublished, dhost = published_vs_host(denv, args.requests)
                print(f"{'dockerd: ab -c 8 through the published port':<52} {dpublished:9.0f} req/s   "
                      f"ratio to host {dpublished / dhost:5.2f}")
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True)


if __name__ == "__main__":
    main()
