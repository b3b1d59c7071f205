"""The Docker SDK for Python drives berthd through its high-level API, as users do."""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker
import pytest
from docker.errors import APIError, ImageNotFound, NotFound

from tests.daemon_harness import Daemon

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(berthd: Daemon) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=berthd.host, version="auto")
    try:
        yield c
    finally:
        c.close()


def test_run_returns_output_and_removes(client: docker.DockerClient) -> None:
    out = client.containers.run("busybox", ["echo", "from the sdk"], remove=True)
    assert out == b"from the sdk\n"


def test_followed_logs_outlive_the_removal(client: docker.DockerClient) -> None:
    # containers.run(remove=True) reads its followed log stream only after wait and remove, as here
    c = client.containers.create("busybox", ["sh", "-c", "sleep 0.3; echo late"])
    c.start()
    stream = c.logs(stream=True, follow=True)
    assert c.wait()["StatusCode"] == 0
    c.remove()
    assert b"".join(stream) == b"late\n"


def test_run_nonzero_raises_container_error(client: docker.DockerClient) -> None:
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    assert info.value.exit_status == 3


def test_detached_lifecycle(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo n$i; sleep 0.2; done; sleep 1000"],
                              detach=True, name="sdk-life", labels={"k": "v"})
    try:
        assert client.containers.get("sdk-life").id == c.id
        assert [x.id for x in client.containers.list(filters={"label": "k=v"})] == [c.id]
        lines = []
        for chunk in c.logs(stream=True):
            lines.append(chunk)
            if b"n3" in b"".join(lines):
                break
        assert b"n1\n" in b"".join(lines)
        res = c.exec_run(["sh", "-c", "echo $HOSTNAME; exit 4"])
        assert res.exit_code == 4
        assert res.output.strip() == c.attrs["Config"]["Hostname"].encode()
        c.kill(signal="SIGKILL")
        assert c.wait()["StatusCode"] == 137
        c.reload()
        assert c.status == "exited"
    finally:
        c.remove(force=True)
    with pytest.raises(NotFound):
        client.containers.get("sdk-life")


def test_create_start_wait(client: docker.DockerClient) -> None:
    c = client.containers.create("busybox", ["sh", "-c", "exit 6"], environment={"A": "1"})
    try:
        assert c.status == "created"
        c.start()
        assert c.wait(timeout=30)["StatusCode"] == 6
    finally:
        c.remove()


def test_images_and_import(client: docker.DockerClient, berthd: Daemon) -> None:
    img = client.images.get("busybox")
    assert "busybox:latest" in img.tags
    assert any("busybox:latest" in i.tags for i in client.images.list())
    tar = berthd.docker("export", berthd.docker("create", "busybox", "true").stdout.decode().strip()).stdout
    result = client.api.import_image(src=tar, repository="sdk-imported", tag="t1")
    assert "sdk-imported" in str(result) or client.images.get("sdk-imported:t1")
    assert client.images.get("sdk-imported:t1").id.startswith("sha256:")
    client.images.remove("sdk-imported:t1")
    with pytest.raises(ImageNotFound):
        client.images.get("sdk-imported:t1")
    berthd.docker("container", "prune", "-f")


def test_errors_map_to_sdk_exceptions(client: docker.DockerClient) -> None:
    with pytest.raises(ImageNotFound):
        client.containers.create("no-such-image:zzz")
    with pytest.raises(NotFound):
        client.containers.get("nope-nope")
    c = client.containers.run("busybox", ["sleep", "100"], detach=True)
    try:
        with pytest.raises(APIError) as info:
            c.remove()
        assert info.value.status_code == 409
    finally:
        c.remove(force=True)


def test_exec_ids_list_live_execs_and_exited_ones_stay_inspectable(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="sdk-execs")
    try:
        live = client.api.exec_create(c.id, ["sleep", "1000"])["Id"]
        client.api.exec_start(live, detach=True)
        done = []
        for i in range(70):  # more than the daemon keeps of one container's exited execs
            eid = client.api.exec_create(c.id, ["sh", "-c", f"exit {i % 7}"])["Id"]
            client.api.exec_start(eid)
            done.append(eid)
        c.reload()
        assert c.attrs["ExecIDs"] == [live]  # exited execs leave the container's list, as in dockerd
        assert client.api.exec_inspect(live)["Running"]
        last = client.api.exec_inspect(done[-1])
        assert (last["Running"], last["ExitCode"]) == (False, 69 % 7)
        with pytest.raises(NotFound):  # the oldest exited ones are forgotten: memory stays bounded
            client.api.exec_inspect(done[0])
    finally:
        c.remove(force=True)


def test_execs_created_and_started_later_or_with_a_tty_of_their_own(client: docker.DockerClient) -> None:
    """berthd makes an exec's process ready at its create; a start long after (when that process is gone), a
    start that asks for a tty the create did not, and execs created in a crowd all run what they were asked."""
    from berth.shim.execstart import MAX_READY, READY_TTL

    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="sdk-exec-later")
    try:
        late = client.api.exec_create(c.id, ["sh", "-c", "echo late; exit 3"])["Id"]
        crowd = [client.api.exec_create(c.id, ["echo", f"crowd-{i}"])["Id"] for i in range(MAX_READY + 2)]
        tty = client.api.exec_create(c.id, ["sh", "-c", "test -t 1 && echo tty"])["Id"]
        assert client.api.exec_start(tty, tty=True) == b"tty\r\n"
        assert [client.api.exec_start(eid) for eid in crowd] == [f"crowd-{i}\n".encode() for i in range(len(crowd))]
        time.sleep(READY_TTL + 0.5)
        assert client.api.exec_start(late) == b"late\n"
        assert client.api.exec_inspect(late)["ExitCode"] == 3
        top = client.api.top(c.id)
        assert [p[-1] for p in top["Processes"]] == ["sleep 1000"]  # nothing made ready is left behind
    finally:
        c.remove(force=True)
