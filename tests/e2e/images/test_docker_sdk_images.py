"""The docker SDK for Python against berthd's image side: list/get/tag/history/save/load/remove/prune."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import docker.errors
import pytest

from tests.daemon_harness import Daemon

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(berthd: Daemon) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=berthd.host, version="auto")
    try:
        yield c
    finally:
        c.close()


def test_sdk_image_round_trip(client: docker.DockerClient) -> None:
    busybox = client.images.get("busybox")
    assert "busybox:latest" in busybox.tags
    assert busybox.attrs["RootFS"]["Type"] == "layers"
    assert busybox.tag("sdk/copy", "1")
    copy = client.images.get("sdk/copy:1")
    assert copy.id == busybox.id
    assert copy.history()[0]["Id"] == busybox.id
    archive = b"".join(copy.save(named="sdk/copy:1"))
    client.images.remove("sdk/copy:1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("sdk/copy:1")
    [loaded] = client.images.load(archive)
    assert loaded.id == busybox.id
    assert "sdk/copy:1" in loaded.tags
    client.images.remove("sdk/copy:1")
    assert any(i.id == busybox.id for i in client.images.list())
    assert client.images.list(name="sdk/copy") == []


def test_sdk_prune_and_missing_pull(client: docker.DockerClient) -> None:
    report = client.images.prune(filters={"dangling": True})
    assert report["SpaceReclaimed"] >= 0
    assert client.images.get("busybox")
    with pytest.raises(docker.errors.APIError, match="connection refused"):  # a loopback registry not there
        client.images.pull("127.0.0.1:1/sdk/not-there", tag="latest")
