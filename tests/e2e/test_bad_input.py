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


BUSYBOX = {"Image": "busybox", "Cmd": ["true"]}
GO_TYPE_ERRORS = [  # a wrong JSON type anywhere in the body: encoding/json's text, as dockerd answers
    ({"Cmd": 5}, "json: cannot unmarshal number into Go struct field Config.Cmd of type strslice.StrSlice"),
    ({"Env": "A=1"}, "json: cannot unmarshal string into Go struct field Config.Env of type []string"),
    ({"Env": [5]}, "json: cannot unmarshal number into Go struct field Config.Env of type string"),
    ({"Labels": {"a": 5}}, "json: cannot unmarshal number into Go struct field Config.Labels of type string"),
    ({"ExposedPorts": {"80/tcp": 5}},
     "json: cannot unmarshal number into Go struct field Config.ExposedPorts of type struct {}"),
    ({"StopTimeout": "x"}, "json: cannot unmarshal string into Go struct field Config.StopTimeout of type int"),
    ({"Tty": "yes"}, "json: cannot unmarshal string into Go struct field Config.Tty of type bool"),
    ({"Healthcheck": 5}, "json: cannot unmarshal number into Go struct field Config.Healthcheck of type "
                         "container.HealthConfig"),
    ({"HostConfig": {"Memory": "1g"}},
     "json: cannot unmarshal string into Go struct field HostConfig.Memory of type int64"),
    ({"HostConfig": {"Memory": 1.5}},
     "json: cannot unmarshal number 1.5 into Go struct field HostConfig.Memory of type int64"),
    ({"HostConfig": {"Binds": [5]}}, "json: cannot unmarshal number into Go struct field HostConfig.Binds of type "
                                     "string"),
    ({"HostConfig": {"RestartPolicy": "always"}}, "json: cannot unmarshal string into Go struct field "
                                                  "HostConfig.RestartPolicy of type container.RestartPolicy"),
    ({"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": "x"}]}},
     "json: cannot unmarshal string into Go struct field Ulimit.Soft of type int64"),
    ({"HostConfig": {"Mounts": [5]}}, "json: cannot unmarshal number into Go struct field HostConfig.Mounts of "
                                      "type container.Mount"),
    ({"HostConfig": {"BlkioWeight": 70000}},
     "json: cannot unmarshal number 70000 into Go struct field HostConfig.BlkioWeight of type uint16"),
    ({"NetworkingConfig": {"EndpointsConfig": "x"}}, "json: cannot unmarshal string into Go struct field "
                                                     "NetworkingConfig.EndpointsConfig of type "
                                                     "map[string]container.EndpointSettings"),
]
DOCKERD_CHECKS = [  # right types, values dockerd refuses at create
    ({"StopSignal": "BOGUS"}, "Invalid signal: BOGUS"),
    ({"HostConfig": {"Memory": -5}}, "Minimum memory limit allowed is 6MB"),
    ({"HostConfig": {"CpuShares": -2}}, "invalid CPU shares (-2): value must be a positive integer"),
    ({"HostConfig": {"CpuPeriod": 10}},
     "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    ({"HostConfig": {"CpusetCpus": "abc"}}, "Invalid value abc for cpuset cpus"),
    ({"HostConfig": {"BlkioWeight": 5}}, "Range of blkio weight is from 10 to 1000"),
    ({"HostConfig": {"CgroupnsMode": "bogus"}}, "invalid cgroup namespace mode: bogus"),
    ({"HostConfig": {"Isolation": "hyperv"}}, "Invalid isolation: \"hyperv\" - linux only supports 'default'"),
    ({"HostConfig": {"Mounts": [{"Type": "bind", "Source": "/nonexistent-berth", "Target": "/x"}]}},
     'invalid mount config for type "bind": bind source path does not exist: /nonexistent-berth'),
    ({"HostConfig": {"Runtime": "nope"}}, "Unknown runtime specified nope"),
    ({"Healthcheck": {"Test": ["CMD", "true"], "Interval": 10}}, "Interval in Healthcheck cannot be less than 1ms"),
]


@pytest.mark.parametrize(("extra", "message"), GO_TYPE_ERRORS + DOCKERD_CHECKS)
def test_a_malformed_create_is_a_400_with_dockerds_text(berthd: Daemon, extra: dict[str, object],
                                                          message: str) -> None:
    before = api_json(berthd.sock, "GET", "/containers/json?all=1")[1]
    assert api_json(berthd.sock, "POST", "/containers/create", {**BUSYBOX, **extra}) == (400, {"message": message})
    assert api_json(berthd.sock, "GET", "/containers/json?all=1")[1] == before  # nothing was created


def test_a_command_that_cannot_run_is_the_requests_fault(berthd: Daemon) -> None:
    status, body = api_json(berthd.sock, "POST", "/containers/create?name=no-such-cmd",
                            {**BUSYBOX, "Cmd": "no-such-command"})  # a StrSlice may be one string
    assert status == 201
    try:
        status, body = api_json(berthd.sock, "POST", "/containers/no-such-cmd/start")
        assert status == 400
        assert 'exec: "no-such-command": executable file not found in $PATH' in body["message"]
        status, body = api_json(berthd.sock, "GET", "/containers/no-such-cmd/json")
        assert body["Config"]["Cmd"] == ["no-such-command"]
        assert body["State"]["ExitCode"] == 127
    finally:
        api_json(berthd.sock, "DELETE", "/containers/no-such-cmd?force=1")


def test_a_missing_network_fails_the_start_not_the_create(berthd: Daemon) -> None:
    """As dockerd: a 404 at create would make the docker CLI go and pull the image."""
    res = berthd.docker("run", "--rm", "--network", "no-such-net", "busybox", "true")
    assert res.returncode == 125
    err = res.stderr.decode()
    assert "network no-such-net not found" in err
    assert "Unable to find image" not in err


def test_a_malformed_exec_is_a_400(berthd: Daemon) -> None:
    status, body = api_json(berthd.sock, "POST", "/containers/create?name=exec-target",
                            {**BUSYBOX, "Cmd": ["sleep", "100"]})
    assert status == 201
    try:
        assert api_json(berthd.sock, "POST", "/containers/exec-target/start")[0] == 204
        for body, message in (
                ({"Cmd": "true"}, "json: cannot unmarshal string into Go struct field ExecConfig.Cmd of type []string"),
                ({"Cmd": ["true"], "Tty": 1}, "json: cannot unmarshal number into Go struct field ExecConfig.Tty of "
                                              "type bool"),
                ({"Cmd": ["true"], "WorkingDir": "tmp"},
                 "the working directory 'tmp' is invalid, it needs to be an absolute path")):
            assert api_json(berthd.sock, "POST", "/containers/exec-target/exec", body) == (400, {"message": message})
        status, body = api_json(berthd.sock, "POST", "/containers/exec-target/exec", {"Cmd": ["true"]})
        assert api_json(berthd.sock, "POST", f"/exec/{body['Id']}/start", {"Detach": "yes"}) == (
            400, {"message": "json: cannot unmarshal string into Go struct field ExecStartCheck.Detach of type bool"})
    finally:
        api_json(berthd.sock, "DELETE", "/containers/exec-target?force=1")


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
