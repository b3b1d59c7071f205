"""Bad input gets docker's status and text, never crashes berthd, and leaves nothing behind."""

from __future__ import annotations

import io
import os
import socket
import tarfile

import pytest

from tests.daemon_harness import Daemon, api_json, mounts_under

pytestmark = pytest.mark.e2e


def raw_request(sock: str, data: bytes) -> bytes:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(data)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except TimeoutError:
        pass
    s.close()
    return out


def hostile_tar(kind: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name: str, data: bytes = b"x", **kw: object) -> None:
            info = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(info, k, v)
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)

        if kind == "dotdot":
            add("ok.txt")
            add("../../../../tmp/berth-escape-dotdot")
        elif kind == "symlink":
            add("etc", type=tarfile.SYMTYPE, linkname="/tmp")
            add("etc/berth-escape-symlink")
        elif kind == "hardlink":
            add("lnk", type=tarfile.LNKTYPE, linkname="../../../../etc/hostname")
    return buf.getvalue()


def test_malformed_and_unknown_requests(berthd: Daemon) -> None:
    status, body = api_json(berthd.sock, "POST", "/containers/create", None)
    assert status == 400
    reply = raw_request(berthd.sock, b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                        b"\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{bad}")
    assert b" 400 " in reply.split(b"\r\n")[0]
    assert b"message" in reply
    status, body = api_json(berthd.sock, "POST", "/containers/create", {"Image": "nope:1"})
    assert status == 404
    assert body == {"message": "No such image: nope:1"}
    status, body = api_json(berthd.sock, "GET", "/containers/nope/json")
    assert (status, body) == (404, {"message": "No such container: nope"})
    status, body = api_json(berthd.sock, "GET", "/no/such/route")
    assert (status, body) == (404, {"message": "page not found"})
    status, body = api_json(berthd.sock, "POST", "/containers/create", {"Image": "busybox", "HostConfig": 5})
    assert status == 400
    status, body = api_json(berthd.sock, "POST", "/containers/create?name=bad/name", {"Image": "busybox"})
    assert status == 400
    assert raw_request(berthd.sock, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert api_json(berthd.sock, "GET", "/_ping")[0] == 200


@pytest.mark.parametrize("kind", ["dotdot", "symlink", "hardlink"])
def test_hostile_import_is_rejected_or_contained(berthd: Daemon, kind: str) -> None:
    before = set(os.listdir(os.path.join(berthd.data_root, "snapshots")))
    res = berthd.docker("import", "-", f"hostile:{kind}", input=hostile_tar(kind))
    assert not os.path.exists(f"/tmp/berth-escape-{kind}")
    if res.returncode != 0:
        assert berthd.docker("image", "inspect", f"hostile:{kind}").returncode == 1
        after = set(os.listdir(os.path.join(berthd.data_root, "snapshots")))
        assert after <= before | {"l"}
    else:
        berthd.docker("rmi", f"hostile:{kind}")
    assert api_json(berthd.sock, "GET", "/_ping")[0] == 200


def test_everything_is_gone_after_rm(berthd: Daemon) -> None:
    cid = berthd.docker("run", "-d", "busybox", "sh", "-c", "sleep 1000 & sleep 1000").stdout.decode().strip()
    assert mounts_under(os.path.join(berthd.data_root, "containers", cid))
    cgroup_dirs = [os.path.join(root, berthd.cgroup_parent, cid) for root in
                   ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")]
    assert any(os.path.isdir(d) for d in cgroup_dirs)
    assert berthd.docker("rm", "-f", cid).returncode == 0
    assert mounts_under(os.path.join(berthd.data_root, "containers", cid)) == []
    assert not any(os.path.isdir(d) for d in cgroup_dirs)
    assert not os.path.exists(os.path.join(berthd.data_root, "containers", cid))
    assert not os.path.exists(os.path.join(berthd.exec_root, "shims", cid))
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cgroup") as f:
                    assert cid not in f.read()
            except FileNotFoundError:
                pass
