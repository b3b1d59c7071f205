"""berthd --userns-remap: container root is an unprivileged host id; --userns=host opts out."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.daemon_harness import Daemon, ok, running_daemon

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def subids(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """A remap user and group (nobody:nogroup, with ranges in /etc/subuid and /etc/subgid), restored afterwards."""
    saved = {}
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            with open(path) as f:
                saved[path] = f.read()
        except FileNotFoundError:
            saved[path] = None
    start = 3_000_000 + (os.getpid() % 1000) * 65536
    try:
        for path, owner in (("/etc/subuid", "nobody"), ("/etc/subgid", "nogroup")):
            with open(path, "a") as f:
                f.write(f"{owner}:{start}:65536\n")
        yield start, 65536
    finally:
        for path, text in saved.items():
            if text is None:
                os.unlink(path)
            else:
                with open(path, "w") as f:
                    f.write(text)


@pytest.fixture(scope="module")
def daemon(subids: tuple[int, int], busybox_tar: bytes) -> Iterator[Daemon]:
    with running_daemon(["--userns-remap", "nobody:nogroup"]) as d:
        d.import_busybox(busybox_tar)
        yield d


def test_container_root_is_an_unprivileged_host_id(daemon: Daemon, subids: tuple[int, int]) -> None:
    start, size = subids
    out = ok(daemon.docker("run", "--rm", "busybox", "sh", "-c",
                           "id -u; cat /proc/self/uid_map; stat -c '%u %g' /bin/busybox /; "
                           "touch /made && stat -c %u /made; echo x >> /etc/hosts && echo hosts-rw"))
    lines = out.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(start), str(size)]
    assert lines[2:4] == ["0 0", "0 0"]  # image files belong to the container's root, not to nobody
    assert lines[4:] == ["0", "hosts-rw"]

    cid = ok(daemon.docker("run", "-d", "busybox", "sleep", "100")).strip()
    try:
        pid = json.loads(ok(daemon.docker("inspect", cid)))[0]["State"]["Pid"]
        with open(f"/proc/{pid}/status") as f:
            uid_line = next(line for line in f if line.startswith("Uid:"))
        assert uid_line.split()[1:] == [str(start)] * 4
        assert ok(daemon.docker("exec", cid, "id", "-u")).strip() == "0"
        for _ in range(3):  # execs in a row: the later ones start from a spare set up ahead, in the user namespace
            out = ok(daemon.docker("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map"))
            assert out.split() == ["0", "0", str(start), str(size)]
    finally:
        ok(daemon.docker("rm", "-f", cid))


def test_layers_live_in_the_remapped_root(daemon: Daemon, subids: tuple[int, int]) -> None:
    start, _ = subids
    info = json.loads(ok(daemon.docker("info", "--format", "{{json .}}")))
    assert info["DockerRootDir"] == os.path.join(daemon.data_root, f"{start}.{start}")
    assert "name=userns" in info["SecurityOptions"]
    snapshots = os.path.join(info["DockerRootDir"], "snapshots")
    owners = {os.stat(os.path.join(snapshots, d, "fs", "bin", "busybox")).st_uid
              for d in os.listdir(snapshots) if os.path.exists(os.path.join(snapshots, d, "fs", "bin", "busybox"))}
    assert owners == {start}


def test_userns_host_opts_out_and_privileged_needs_it(daemon: Daemon, subids: tuple[int, int]) -> None:
    out = ok(daemon.docker("run", "--rm", "--userns", "host", "busybox", "cat", "/proc/self/uid_map"))
    assert out.split() == ["0", "0", "4294967295"]
    res = daemon.docker("run", "--rm", "--privileged", "busybox", "true")
    assert res.returncode != 0
    assert b"privileged mode is incompatible with user namespaces" in res.stderr
    out = ok(daemon.docker("run", "--rm", "--privileged", "--userns=host", "busybox", "cat", "/proc/self/uid_map"))
    assert out.split() == ["0", "0", "4294967295"]


def test_a_remapped_root_cannot_touch_host_files(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> None:
    host_dir = tmp_path_factory.mktemp("bind")
    os.chmod(host_dir, 0o755)
    (host_dir / "secret").write_text("root only\n")
    os.chmod(host_dir / "secret", 0o600)
    res = daemon.docker("run", "--rm", "-v", f"{host_dir}:/host", "busybox", "sh", "-c",
                        "cat /host/secret; echo pwned > /host/new")
    assert res.returncode != 0
    assert b"Permission denied" in res.stderr
    assert not (host_dir / "new").exists()


def test_default_creates_the_berth_user_and_its_ranges(busybox_tar: bytes) -> None:
    files = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid", "/etc/subgid"]
    saved: dict[str, bytes | None] = {}
    for path in files:
        try:
            with open(path, "rb") as f:
                saved[path] = f.read()
        except FileNotFoundError:
            saved[path] = None
    try:
        with running_daemon(["--userns-remap", "default"]) as d:
            with open("/etc/subuid") as f:
                entry = next(line for line in f if line.startswith("berth:"))
            start = int(entry.split(":")[1])
            d.import_busybox(busybox_tar)
            out = ok(d.docker("run", "--rm", "busybox", "cat", "/proc/self/uid_map"))
            assert out.split() == ["0", str(start), "65536"]
    finally:
        for path, data in saved.items():
            if data is None:
                if os.path.exists(path):
                    os.unlink(path)
            else:
                with open(path, "wb") as f:
                    f.write(data)


def test_commit_and_export_show_the_containers_ids(daemon: Daemon) -> None:
    cid = ok(daemon.docker("run", "-d", "busybox", "sh", "-c",
                           "touch /by-root; adduser -D -u 1234 app 2>/dev/null; touch /by-app; chown 1234 /by-app; "
                           "sleep 100")).strip()
    try:
        for _ in range(50):
            if daemon.docker("exec", cid, "test", "-e", "/by-app").returncode == 0:
                break
        tar = daemon.docker("export", cid)
        assert tar.returncode == 0
        listing = subprocess.run(["tar", "-tvf", "-", "--numeric-owner", "./by-root", "./by-app"],
                                 input=tar.stdout, capture_output=True, check=True).stdout.decode().splitlines()
        owners = {line.split()[-1]: line.split()[1] for line in listing}
        assert owners == {"./by-root": "0/0", "./by-app": "1234/0"}
        ok(daemon.docker("commit", cid, "remapped:committed"))
        out = ok(daemon.docker("run", "--rm", "remapped:committed", "stat", "-c", "%u", "/by-root", "/by-app"))
        assert out.split() == ["0", "1234"]
    finally:
        ok(daemon.docker("rm", "-f", cid))
