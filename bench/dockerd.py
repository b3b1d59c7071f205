"""A sandboxed dockerd for the benchmarks to compare with: own roots and socket, no firewall or sysctl changes.

Started when dockerd is installed (Debian's docker.io) and the benchmark runs as root, unless it is given
--no-dockerd (or BENCH_DOCKERD=0); stopped, with everything it made, when the benchmark ends. It runs with
--iptables=false, --ip-forward=false and --ip-masq=false on a bridge of its own, so the host's FORWARD policy and
tables stay as they were; published ports then go through docker-proxy, dockerd's userland proxy, which is what
it uses for 127.0.0.1 anyway.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

from tests.daemon_harness import DOCKER, cleanup_kernel_objects

BRIDGE = "bbdock0"
BRIDGE_CIDR = "10.213.77.1/24"
CGROUP_PARENT = "berthbench-dockerd"


def wanted(no_dockerd: bool) -> bool:
    """Whether to compare with dockerd: yes, unless --no-dockerd or BENCH_DOCKERD=0 says otherwise."""
    return not no_dockerd and os.environ.get("BENCH_DOCKERD") != "0"


@contextlib.contextmanager
def sandboxed_dockerd(enabled: bool) -> Iterator[dict[str, str] | None]:
    """Yields the environment that points the docker CLI at a private dockerd, or None when not wanted or not
    installed (the benchmark then prints its own figures only)."""
    dockerd = shutil.which("dockerd")
    if not enabled or dockerd is None or os.geteuid() != 0:
        if enabled:
            print("dockerd: not installed here (apt install docker.io), or not root: no comparison")
        yield None
        return
    base = tempfile.mkdtemp(prefix="bench-dockerd-", dir="/tmp")
    exec_root = tempfile.mkdtemp(prefix="bench-dockerd-", dir="/run")
    sock = os.path.join(exec_root, "docker.sock")
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(["ip", "addr", "add", BRIDGE_CIDR, "dev", BRIDGE], check=True)
        subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
        with open(os.path.join(base, "dockerd.log"), "wb") as log:
            proc = subprocess.Popen(
                [dockerd, "-H", f"unix://{sock}", "--data-root", os.path.join(base, "root"), "--exec-root", exec_root,
                 "--pidfile", os.path.join(exec_root, "dockerd.pid"), "--iptables=false", "--ip6tables=false",
                 "--ip-forward=false", "--ip-masq=false", "-b", BRIDGE, "--cgroup-parent", CGROUP_PARENT,
                 "--storage-driver", "overlay2", "--log-level", "error"],
                stdout=log, stderr=log, start_new_session=True)
        env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
        deadline = time.monotonic() + 30
        while subprocess.run([DOCKER, "version"], env=env, capture_output=True).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(base, "dockerd.log"), "rb") as f:
                    raise SystemExit(f"dockerd did not start: {f.read()[-2000:].decode(errors='replace')}")
            time.sleep(0.2)
        yield env
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        cleanup_kernel_objects(exec_root, CGROUP_PARENT)
        cleanup_kernel_objects(base, CGROUP_PARENT)
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
