"""Volumes against berthd with the docker CLI, the SDK and berth: named and anonymous, data that outlives
containers, dockerd's copy-up, removal rules and prune."""

from __future__ import annotations

import json

import docker
import pytest

from tests.daemon_harness import Daemon, api_json, ok

pytestmark = pytest.mark.e2e


def volumes(d: Daemon) -> list[str]:
    return ok(d.docker("volume", "ls", "-q")).split()


def test_named_volumes_keep_data_between_containers(berthd: Daemon) -> None:
    assert ok(berthd.docker("volume", "create", "--label", "team=web", "web-data")) == "web-data\n"
    try:
        doc = json.loads(ok(berthd.docker("volume", "inspect", "web-data")))[0]
        assert (doc["Name"], doc["Driver"], doc["Labels"], doc["Scope"]) == ("web-data", "local", {"team": "web"},
                                                                           "local")
        assert doc["Mountpoint"].endswith("/volumes/web-data/_data")
        ok(berthd.docker("run", "--rm", "-v", "web-data:/data", "busybox", "sh", "-c", "echo kept > /data/f"))
        assert ok(berthd.docker("run", "--rm", "--mount", "type=volume,source=web-data,target=/x", "busybox",
                                "cat", "/x/f")) == "kept\n"
        assert ok(berthd.docker("volume", "ls", "-q", "--filter", "label=team=web")) == "web-data\n"
        ok(berthd.docker("run", "-d", "--name", "vol-user", "-v", "web-data:/data", "busybox", "sleep", "1000"))
        mounts = json.loads(ok(berthd.docker("inspect", "-f", "{{json .Mounts}}", "vol-user")))
        assert [(m["Type"], m["Name"], m["Destination"]) for m in mounts] == [("volume", "web-data", "/data")]
        cid = ok(berthd.docker("inspect", "-f", "{{.Id}}", "vol-user")).strip()
        res = berthd.docker("volume", "rm", "web-data")
        assert res.stderr.decode().strip() == f"Error response from daemon: remove web-data: volume is in use - [{cid}]"
        ok(berthd.docker("rm", "-f", "vol-user"))
        assert ok(berthd.docker("volume", "rm", "web-data")) == "web-data\n"
        assert "web-data" not in volumes(berthd)
    finally:
        berthd.docker("rm", "-f", "vol-user")
        berthd.docker("volume", "rm", "-f", "web-data")


def test_a_new_volume_gets_the_images_files_and_a_used_one_keeps_its_own(berthd: Daemon) -> None:
    try:
        listing = ok(berthd.docker("run", "--rm", "-v", "etc-copy:/etc", "busybox", "ls", "/etc")).split()
        assert "passwd" in listing  # the image's /etc, copied into the volume made by this run
        ok(berthd.docker("run", "--rm", "-v", "etc-copy:/etc", "busybox", "sh", "-c", "rm /etc/passwd; touch /etc/x"))
        later = ok(berthd.docker("run", "--rm", "-v", "etc-copy:/etc", "busybox", "ls", "/etc")).split()
        assert "passwd" not in later  # not copied again: the volume is not empty
        assert "x" in later
    finally:
        berthd.docker("volume", "rm", "-f", "etc-copy")


def test_anonymous_volumes_come_and_go_with_their_containers(berthd: Daemon) -> None:
    before = set(volumes(berthd))
    ok(berthd.docker("run", "-d", "--name", "anon-1", "-v", "/scratch", "busybox", "sh", "-c",
                     "echo x > /scratch/f; sleep 1000"))
    ok(berthd.docker("create", "--name", "anon-2", "-v", "/scratch", "busybox", "true"))
    ok(berthd.docker("run", "--rm", "-v", "/scratch", "busybox", "true"))  # --rm takes its anonymous volume
    try:
        made = set(volumes(berthd)) - before
        assert len(made) == 2
        mounts = json.loads(ok(berthd.docker("inspect", "-f", "{{json .Mounts}}", "anon-1")))
        assert [(m["Type"], m["Destination"], m["Name"] in made) for m in mounts] == [("volume", "/scratch", True)]
        ok(berthd.docker("rm", "-f", "-v", "anon-1"))  # -v: its anonymous volume goes too
        ok(berthd.docker("rm", "anon-2"))  # without: it stays, unused
        left = set(volumes(berthd)) - before
        assert len(left) == 1
        assert ok(berthd.docker("volume", "ls", "-q", "--filter", "dangling=true")).split() == list(left)
        assert "Deleted Volumes:" in ok(berthd.docker("volume", "prune", "-f"))
        assert set(volumes(berthd)) == before
    finally:
        berthd.docker("rm", "-f", "-v", "anon-1", "anon-2")


def test_bad_volume_requests(berthd: Daemon) -> None:
    res = berthd.docker("volume", "create", "bad/name")
    assert 'includes invalid characters for a local volume name' in res.stderr.decode()
    res = berthd.docker("volume", "create", "-d", "nfs", "remote")
    assert 'error looking up volume plugin nfs: plugin "nfs" not found' in res.stderr.decode()
    res = berthd.docker("volume", "rm", "no-such-volume")
    assert res.stderr.decode().strip() == "Error response from daemon: get no-such-volume: no such volume"


def test_sdk_and_berth_volumes(berthd: Daemon) -> None:
    client = docker.DockerClient(base_url=berthd.host)
    try:
        v = client.volumes.create("sdk-vol", labels={"k": "v"})
        assert client.volumes.get("sdk-vol").attrs["Labels"] == {"k": "v"}
        assert "sdk-vol" in [x.name for x in client.volumes.list()]
        assert client.containers.run("busybox", "sh -c 'echo via-sdk > /v/f; cat /v/f'", remove=True,
                                     volumes={"sdk-vol": {"bind": "/v", "mode": "rw"}}) == b"via-sdk\n"
        assert ok(berthd.berth("volume", "ls", "-q", "--filter", "label=k=v")) == "sdk-vol\n"
        assert ok(berthd.berth("volume", "inspect", "-f", "{{.Name}}", "sdk-vol")) == "sdk-vol\n"
        v.remove()
        assert "sdk-vol" not in volumes(berthd)
        assert ok(berthd.berth("volume", "create", "berth-vol")) == "berth-vol\n"
        assert "Deleted Volumes:\nberth-vol\n" in ok(berthd.berth("volume", "prune", "-f", "-a"))
    finally:
        client.close()
        berthd.docker("volume", "rm", "-f", "sdk-vol", "berth-vol")


def test_volumes_from_shares_another_containers_mounts(berthd: Daemon, tmp_path: object) -> None:
    host_dir = str(tmp_path)
    ok(berthd.docker("create", "--name", "vf-source", "-v", "vf-named:/named", "-v", "/anon", "-v",
                     f"{host_dir}:/host", "busybox", "true"))
    try:
        ok(berthd.docker("run", "--rm", "--volumes-from", "vf-source", "busybox", "sh", "-c",
                         "echo n > /named/f; echo a > /anon/f; echo h > /host/f"))
        with open(f"{host_dir}/f") as f:
            assert f.read() == "h\n"
        out = ok(berthd.docker("run", "--rm", "--volumes-from", "vf-source:ro", "busybox", "sh", "-c",
                               "cat /named/f /anon/f; touch /named/x 2>/dev/null || echo read-only"))
        assert out == "n\na\nread-only\n"
        ok(berthd.docker("run", "-d", "--name", "vf-user", "--volumes-from", "vf-source", "busybox", "sleep", "1000"))
        mounts = json.loads(ok(berthd.docker("inspect", "-f", "{{json .Mounts}}", "vf-user")))
        assert sorted(m["Destination"] for m in mounts) == ["/anon", "/host", "/named"]
        res = berthd.docker("volume", "rm", "vf-named")
        assert "volume is in use" in res.stderr.decode()
        assert api_json(berthd.sock, "POST", "/containers/create", {  # dockerd's 404 (the CLI then tries a pull)
            "Image": "busybox", "Cmd": ["true"], "HostConfig": {"VolumesFrom": ["no-such-container"]}}) == (
            404, {"message": "No such container: no-such-container"})
    finally:
        berthd.docker("rm", "-f", "-v", "vf-user", "vf-source")
        berthd.docker("volume", "rm", "-f", "vf-named")
