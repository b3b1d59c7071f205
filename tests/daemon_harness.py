"""Starts and stops private berthd instances for tests, and removes every kernel object they leave."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKER = (os.environ.get("BERTH_TEST_DOCKER") or shutil.which("docker", path="/usr/local/bin:/usr/bin")
          or os.path.join(REPO, ".test-tools", "docker", "usr", "bin", "docker"))


def _unix_get(sock: str, path: str, timeout: float = 2.0) -> int:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = s.recv(64)
        return int(head.split()[1])
    finally:
        s.close()


@dataclass
class Daemon:
    """A running berthd on its own roots, socket and cgroup parent."""

    base: str
    cgroup_parent: str
    proc: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)
    exec_dir: str = ""  # the exec root, when not base/exec (benchmarks put it on tmpfs, as /run/berth is)
    debug: bool = True  # tests want berthd's debug log; benchmarks measure it as users run it, without

    @property
    def sock(self) -> str:
        return os.path.join(self.exec_root, "berth.sock")

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    @property
    def data_root(self) -> str:
        return os.path.join(self.base, "data")

    @property
    def exec_root(self) -> str:
        return self.exec_dir or os.path.join(self.base, "exec")

    @property
    def log_file(self) -> str:
        return os.path.join(self.base, "berthd.log")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env["BERTH_HOST"] = self.host
        env.pop("DOCKER_CONTEXT", None)
        env["DOCKER_CONFIG"] = os.path.join(self.base, "docker-config")
        return env

    def start(self) -> None:
        os.makedirs(self.exec_root, exist_ok=True)
        cmd = [
            sys.executable, "-m", "berth.daemon.main",
            "--data-root", self.data_root, "--exec-root", self.exec_root, "-H", self.host,
            "--cgroup-parent", self.cgroup_parent, "--log-file", self.log_file,
            "--pidfile", os.path.join(self.exec_root, "berthd.pid"), *(["--debug"] if self.debug else []),
            "--config-file", os.path.join(self.base, "daemon.json"), *self.extra_args,
        ]
        if not any(a in ("-b", "--bridge") or a.startswith("--bridge=") for a in self.extra_args):
            cmd += ["--bridge", "none"]  # no shared host bridge unless a test asks for its own
        if not os.path.exists(os.path.join(self.base, "daemon.json")):
            with open(os.path.join(self.base, "daemon.json"), "w") as f:
                f.write("{}")
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"berthd exited with {self.proc.returncode}:\n{self.read_log()}")
            with contextlib.suppress(OSError, ValueError, IndexError):
                if _unix_get(self.sock, "/_ping") == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"berthd did not answer on {self.sock}:\n{self.read_log()}")

    def kill9(self) -> None:
        """kill -9 the daemon (its shims and containers live on)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def read_log(self) -> str:
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()[-6000:]
        except FileNotFoundError:
            return "(no log)"

    def berth(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "berth.cli.main", *args], env=self.env(), input=input,
            capture_output=True, timeout=timeout, cwd=REPO,
        )

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [DOCKER, *args], env=self.env(), input=input, capture_output=True, timeout=timeout,
        )

    def import_busybox(self, tar_bytes: bytes, ref: str = "busybox:latest") -> None:
        res = self.docker("import", "-", ref, input=tar_bytes)
        assert res.returncode == 0, res.stderr.decode() + self.read_log()


def _procs_mentioning(text: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def _cgroup_dirs(parent: str) -> list[str]:
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.startswith("cgroup"):
                path = os.path.join(left.split()[4], parent)
                if os.path.isdir(path):
                    found.append(path)
    return found


def process_alive(pid: int) -> bool:
    """`pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def mounts_under(prefix: str) -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4].replace("\\040", " ")
            if target.startswith(prefix):
                out.append(target)
    return out


def cleanup_kernel_objects(base: str, cgroup_parent: str) -> None:
    """Kill every process started for `base`, unmount what is under it, remove its cgroups."""
    for _ in range(3):
        pids = _procs_mentioning(base)
        for cg in _cgroup_dirs(cgroup_parent):
            for root, _dirs, files in os.walk(cg):
                if "cgroup.procs" in files:
                    with contextlib.suppress(OSError), open(os.path.join(root, "cgroup.procs")) as f:
                        pids += [int(p) for p in f.read().split()]
        if not pids:
            break
        for pid in set(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    for target in sorted(mounts_under(base), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)
    remove_cgroups(cgroup_parent)
    shutil.rmtree(base, ignore_errors=True)


def remove_cgroups(parent: str, timeout: float = 5.0) -> None:
    """Remove the cgroup `parent` and everything below it, in every hierarchy (v1 and v2); a cgroup whose
    killed processes are still leaving is busy for a moment, so this tries again until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        left = _cgroup_dirs(parent)
        for cg in left:
            for root, dirs, _files in os.walk(cg, topdown=False):
                for d in dirs:
                    with contextlib.suppress(OSError):
                        os.rmdir(os.path.join(root, d))
            with contextlib.suppress(OSError):
                os.rmdir(cg)
        if not left or not _cgroup_dirs(parent) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def ok(res: subprocess.CompletedProcess[bytes]) -> str:
    """stdout of a command that must succeed (its output and errors in the failure message)."""
    assert res.returncode == 0, res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")
    return res.stdout.decode()


@contextlib.contextmanager
def running_daemon(extra_args: list[str] | None = None, exec_on_tmpfs: bool = False,
                   debug: bool = True) -> Iterator[Daemon]:
    base = tempfile.mkdtemp(prefix="bt-", dir="/tmp")
    exec_dir = tempfile.mkdtemp(prefix="bt-", dir="/run") if exec_on_tmpfs else ""
    d = Daemon(base=base, cgroup_parent=f"berth-test-{uuid.uuid4().hex[:8]}", extra_args=extra_args or [],
               exec_dir=exec_dir, debug=debug)
    try:
        d.start()
        yield d
    finally:
        try:
            d.stop()
        finally:
            if exec_dir:
                cleanup_kernel_objects(exec_dir, d.cgroup_parent)
            cleanup_kernel_objects(base, d.cgroup_parent)


def api_json(sock: str, method: str, path: str, body: object | None = None) -> tuple[int, object]:
    """A tiny raw HTTP client for tests that check status codes and bodies directly."""
    data = b"" if body is None else json.dumps(body).encode()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sock)
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(data)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    s.sendall(head.encode() + b"\r\n" + data)
    chunks = []
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    s.close()
    raw = b"".join(chunks)
    header, _, payload = raw.partition(b"\r\n\r\n")
    status = int(header.split()[1])
    if b"transfer-encoding: chunked" in header.lower():
        out, rest = b"", payload
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        payload = out
    try:
        return status, json.loads(payload) if payload.strip() else None
    except ValueError:
        return status, payload.decode(errors="replace")


def eventually(cond: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Whether `cond()` comes true within `timeout` seconds (polled; for states that take a while to come)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()
