"""`docker cp` against berthd: files in and out of running and stopped containers, resolved inside the
container, and hostile tars refused."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import docker
import pytest

from tests.daemon_harness import Daemon, api_json, ok

pytestmark = pytest.mark.e2e


def tar_of(*members: tuple[str, str, bytes | str]) -> bytes:
    """(kind, name, data or link target) members: kind is "file", "dir", "symlink", "fifo" or "chr"."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for kind, name, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                assert isinstance(data, bytes)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "fifo": tarfile.FIFOTYPE,
                         "chr": tarfile.CHRTYPE}[kind]
            if kind == "symlink":
                assert isinstance(data, str)
                info.linkname = data
            tar.addfile(info)
    return buf.getvalue()


def put(d: Daemon, name: str, path: str, body: bytes) -> tuple[int, object]:
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(d.sock)
    s.sendall(f"PUT /containers/{name}/archive?path={path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              f"Content-Type: application/x-tar\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def test_cp_in_and_out_of_a_running_container(berthd: Daemon, tmp_path: Path) -> None:
    ok(berthd.docker("run", "-d", "--name", "cp-run", "busybox", "sleep", "1000"))
    try:
        (tmp_path / "hello.txt").write_text("hello\n")
        (tmp_path / "tree" / "sub").mkdir(parents=True)
        (tmp_path / "tree" / "sub" / "a").write_text("a")
        os.symlink("sub/a", tmp_path / "tree" / "link")
        ok(berthd.docker("cp", str(tmp_path / "hello.txt"), "cp-run:/tmp/"))
        ok(berthd.docker("cp", str(tmp_path / "hello.txt"), "cp-run:/tmp/renamed.txt"))
        ok(berthd.docker("cp", str(tmp_path / "tree"), "cp-run:/tmp/"))
        assert ok(berthd.docker("exec", "cp-run", "cat", "/tmp/hello.txt", "/tmp/renamed.txt",
                                "/tmp/tree/link")) == "hello\nhello\na"
        assert ok(berthd.docker("exec", "cp-run", "readlink", "/tmp/tree/link")) == "sub/a\n"
        out = tmp_path / "out"
        ok(berthd.docker("cp", "cp-run:/tmp/tree", str(out)))
        assert (out / "sub" / "a").read_text() == "a"
        assert os.readlink(out / "link") == "sub/a"
        ok(berthd.docker("cp", "cp-run:/etc/hostname", str(tmp_path / "hostname")))  # the container's own mounts
        assert (tmp_path / "hostname").read_text().strip() == \
            ok(berthd.docker("inspect", "-f", "{{.Config.Hostname}}", "cp-run")).strip()
        res = berthd.docker("cp", "cp-run:/nonexistent", str(tmp_path / "x"))
        assert res.returncode == 1
        assert "Could not find the file /nonexistent in container" in res.stderr.decode()
    finally:
        berthd.docker("rm", "-f", "cp-run")


def test_cp_resolves_symlinks_inside_the_container(berthd: Daemon, tmp_path: Path) -> None:
    ok(berthd.docker("run", "-d", "--name", "cp-links", "busybox", "sh", "-c",
                     "ln -s / /tmp/root; ln -s /etc /tmp/etc-link; sleep 1000"))
    victim = tmp_path / "victim"
    try:
        (tmp_path / "payload").write_text("payload")
        ok(berthd.docker("cp", str(tmp_path / "payload"), "cp-links:/tmp/etc-link/"))
        assert ok(berthd.docker("exec", "cp-links", "cat", "/etc/payload")) == "payload"
        assert not os.path.exists("/etc/payload")  # the container's /etc, never the host's
        ok(berthd.docker("cp", "cp-links:/tmp/root/etc/hostname", str(victim)))
        assert victim.read_text().strip() == ok(berthd.docker("exec", "cp-links", "hostname")).strip()
    finally:
        berthd.docker("rm", "-f", "cp-links")


def test_cp_with_a_stopped_container_and_a_read_only_one(berthd: Daemon, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("into a stopped one\n")
    ok(berthd.docker("create", "--name", "cp-stopped", "busybox", "cat", "/f"))
    ok(berthd.docker("run", "-d", "--name", "cp-ro", "--read-only", "busybox", "sleep", "1000"))
    try:
        ok(berthd.docker("cp", str(tmp_path / "f"), "cp-stopped:/f"))
        assert ok(berthd.docker("start", "-a", "cp-stopped")) == "into a stopped one\n"
        res = berthd.docker("cp", str(tmp_path / "f"), "cp-ro:/tmp/")
        assert res.returncode == 1
        assert "container rootfs is marked read-only" in res.stderr.decode()
    finally:
        berthd.docker("rm", "-f", "cp-stopped", "cp-ro")


def test_hostile_tars_are_refused(berthd: Daemon) -> None:
    ok(berthd.docker("run", "-d", "--name", "cp-hostile", "busybox", "sleep", "1000"))
    try:
        ok(berthd.docker("exec", "cp-hostile", "mkdir", "/dst"))
        for body, text in (
                (tar_of(("file", "../../escape", b"x")), "climbs out of the destination"),
                (tar_of(("symlink", "up", "../../etc")), "invalid symlink"),
                (tar_of(("chr", "null2", "")), "device nodes cannot be copied"),
                (b"not a tar at all" * 64, "")):
            status, reply = put(berthd, "cp-hostile", "/dst", body)
            assert status == 400
            assert text.encode() in reply
        assert ok(berthd.docker("exec", "cp-hostile", "ls", "-A", "/dst")) == ""
        assert not os.path.exists("/escape")
        status, reply = put(berthd, "cp-hostile", "/etc/hostname", tar_of(("file", "x", b"x")))
        assert (status, b"extraction point is not a directory" in reply) == (400, True)
        assert api_json(berthd.sock, "GET", "/_ping")[0] == 200
    finally:
        berthd.docker("rm", "-f", "cp-hostile")


def test_sdk_put_and_get_archive(berthd: Daemon) -> None:
    client = docker.DockerClient(base_url=berthd.host)
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="cp-sdk")
    try:
        assert c.put_archive("/tmp", tar_of(("dir", "d", b""), ("file", "d/x.txt", b"from the sdk")))
        stream, stat = c.get_archive("/tmp/d/x.txt")
        assert (stat["name"], stat["size"]) == ("x.txt", 12)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile("x.txt")
            assert member is not None
            assert member.read() == b"from the sdk"
    finally:
        c.remove(force=True)
        client.close()
