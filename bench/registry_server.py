"""Registry throughput: push and pull of an ~80 MB blob set through Berth's registry and distribution 2.8.

Run: .venv/bin/python bench/registry_server.py [TOTAL_MB]. Prints MB/s; asserts nothing. Uploads go as
POST + PATCH (8 MiB chunks) + PUT, the way docker and skopeo push; pulls are plain GETs. Each figure is the
best of three rounds, sequential and with 4 blobs at a time.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.registry.peers import docker_registry, have_docker_registry  # noqa: E402

CHUNK = 8 << 20


@contextmanager
def berth_registry(root: Path) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "berth.registry", "serve", "--addr", "127.0.0.1:0",
                             "--root", str(root), "--log-level", "warning"],
                            cwd=REPO, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        m = re.search(r"listening on (\S+:\d+)", line)
        if not m:
            raise RuntimeError(f"registry did not start: {line}")
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(30)


def push(c: httpx.Client, name: str, data: bytes) -> None:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = c.post(f"/v2/{name}/blobs/uploads/")
    location = r.headers["Location"]
    for off in range(0, len(data), CHUNK):
        part = data[off:off + CHUNK]
        r = c.patch(location, content=part, headers={"Content-Range": f"{off}-{off + len(part) - 1}",
                                                     "Content-Type": "application/octet-stream"})
        r.raise_for_status()
        location = r.headers["Location"]
    sep = "&" if "?" in location else "?"
    c.put(f"{location}{sep}digest={digest}").raise_for_status()


def pull(c: httpx.Client, name: str, data: bytes) -> None:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    got = 0
    with c.stream("GET", f"/v2/{name}/blobs/{digest}") as r:
        r.raise_for_status()
        for chunk in r.iter_bytes(1 << 20):
            got += len(chunk)
    assert got == len(data)


def rate(addr: str, blobs: list[bytes], op: Callable[[httpx.Client, str, bytes], None], workers: int,
         round_: int) -> float:
    total = sum(len(b) for b in blobs) / 1e6
    clients = [httpx.Client(base_url=f"http://{addr}", timeout=300) for _ in range(workers)]
    try:
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(op, clients[i % workers], f"bench/r{round_}/b{i}", b)
                       for i, b in enumerate(blobs)]
            for f in futures:
                f.result()
        return total / (time.perf_counter() - t0)
    finally:
        for c in clients:
            c.close()


def measure(name: str, addr: str, blobs: list[bytes]) -> None:
    for workers in (1, 4):
        pushes, pulls = [], []
        for round_ in range(3):
            tag = round_ + 10 * workers
            pushes.append(rate(addr, blobs, push, workers, tag))
            pulls.append(rate(addr, blobs, pull, workers, tag))
        print(f"{name:<22} x{workers}  push {max(pushes):7.1f} MB/s   pull {max(pulls):7.1f} MB/s", flush=True)


def main() -> None:
    total_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    blobs = [os.urandom(10 << 20) for _ in range(max(total_mb // 10, 1))]
    print(f"{len(blobs)} blobs, {sum(map(len, blobs)) / 1e6:.0f} MB per round, best of 3", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        with berth_registry(Path(tmp) / "berth") as addr:
            measure("berth registry", addr, blobs)
        if have_docker_registry():
            with docker_registry(Path(tmp) / "distribution") as addr:
                measure("docker-registry 2.8", addr, blobs)
        else:
            print("docker-registry not installed: no comparison")


if __name__ == "__main__":
    main()
