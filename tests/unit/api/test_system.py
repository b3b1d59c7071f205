"""System routes as the docker CLI sees them: /_ping, /version, /info, /events, /auth and refusals."""

from __future__ import annotations

import json
import time

from tests.unit.api.harness import LoopThread, RawClient, StubSystem


def test_head_ping_has_every_header_and_empty_body(client: RawClient) -> None:
    client.request("HEAD", "/_ping")
    status, headers, _ = client.read_response(head_only=True)
    assert status == 200
    assert headers["api-version"] == "1.44"
    assert headers["ostype"] == "linux"
    assert headers["builder-version"] == "1"
    assert headers["swarm"] == "inactive"
    assert headers["docker-experimental"] == "false"
    assert headers["cache-control"] == "no-cache, no-store, must-revalidate"
    assert headers["pragma"] == "no-cache"
    assert headers["content-length"] == "0"


def test_get_ping_says_ok(client: RawClient) -> None:
    client.request("GET", "/_ping")
    status, headers, body = client.read_response()
    assert (status, body) == (200, b"OK")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["builder-version"] == "1"


def test_every_ping_tells_the_backend_a_client_arrived(client: RawClient, stub_system: StubSystem) -> None:
    for method in ("HEAD", "GET"):
        client.request(method, "/_ping")
        client.read_response(head_only=method == "HEAD")
    assert stub_system.pings == 2


def test_version_reports_api_range(client: RawClient) -> None:
    client.request("GET", "/v1.44/version")
    status, _, body = client.read_response()
    doc = json.loads(body)
    assert status == 200
    assert (doc["ApiVersion"], doc["MinAPIVersion"], doc["Os"]) == ("1.44", "1.40", "linux")
    assert doc["Components"][0]["Name"] == "Engine"
    assert doc["Components"][0]["Details"]["ApiVersion"] == "1.44"


def test_info_has_docker_shape_and_backend_counts(client: RawClient) -> None:
    client.request("GET", "/info")
    status, _, body = client.read_response()
    info = json.loads(body)
    assert status == 200
    assert (info["Containers"], info["ContainersRunning"], info["ContainersStopped"]) == (3, 1, 2)
    assert info["Images"] == 4
    assert info["Driver"] == "overlay2"
    assert info["CgroupDriver"] == "cgroupfs"
    assert info["CgroupVersion"] in ("1", "2")
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert info["DockerRootDir"] == "/var/lib/berth"
    assert info["NCPU"] >= 1
    assert info["MemTotal"] > 0
    assert info["OSType"] == "linux"
    assert "name=seccomp,profile=builtin" in info["SecurityOptions"]
    assert info["Runtimes"]["berth-runtime"] == {"path": "berth-runtime"}
    assert info["Labels"] == ["a=b"]
    for key in ("KernelVersion", "OperatingSystem", "ID", "Name", "ServerVersion", "RegistryConfig"):
        assert info[key]


def test_events_replays_the_past_window_and_ends(
    client: RawClient, stub_system: StubSystem, system_api: tuple[str, LoopThread]
) -> None:
    start = time.time()
    stub_system.events.publish("container", "create", "c1", {"name": "web", "image": "busybox"})
    stub_system.events.publish("image", "tag", "sha256:abc", {"name": "busybox:latest"})
    stub_system.events.publish("network", "create", "n1", {"name": "net1", "type": "bridge"})
    filters = '{"type":{"container":true,"image":true}}'
    client.request("GET", f"/events?since={start - 1:.3f}&until={time.time() + 0.001:.3f}&filters={filters}")
    status, _, body = client.read_response()
    assert status == 200
    msgs = [json.loads(line) for line in body.splitlines()]
    assert [m["Type"] for m in msgs] == ["container", "image"]
    first = msgs[0]
    assert (first["status"], first["id"], first["from"]) == ("create", "c1", "busybox")
    assert first["Actor"] == {"ID": "c1", "Attributes": {"name": "web", "image": "busybox"}}
    assert first["scope"] == "local"
    assert first["time"] == first["timeNano"] // 1_000_000_000


def test_events_follow_streams_new_events(
    client: RawClient, stub_system: StubSystem, system_api: tuple[str, LoopThread]
) -> None:
    _, lt = system_api
    client.request("GET", '/events?filters={"event":["start"]}')
    status, _, headers = client.read_head()  # headers arrive before any event
    assert status == 200
    assert headers["transfer-encoding"] == "chunked"
    for action in ("create", "start"):
        lt.loop.call_soon_threadsafe(stub_system.events.publish, "container", action, "c2", {"name": "x"})
    msg = json.loads(client.read_chunk() or b"")
    assert (msg["Action"], msg["Actor"]["ID"]) == ("start", "c2")


def test_events_listener_goes_away_when_the_client_hangs_up(client: RawClient, stub_system: StubSystem) -> None:
    client.request("GET", "/events")
    client.read_head()
    assert stub_system.events.listener_count() == 1
    client.close()
    deadline = time.monotonic() + 10
    while stub_system.events.listener_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stub_system.events.listener_count() == 0


def test_events_bad_filter_and_bad_window(client: RawClient) -> None:
    client.request("GET", '/events?filters={"colour":["red"]}')
    status, _, body = client.read_response()
    assert (status, body) == (400, b'{"message":"invalid filter \'colour\'"}\n')
    client.request("GET", "/events?since=200&until=100")
    status, _, body = client.read_response()
    assert status == 400
    assert b"cannot be after `until` time" in body


def test_refusals_buildkit_swarm_plugins(client: RawClient) -> None:
    client.request("POST", "/session")
    assert client.read_response()[::2] == (
        501,
        b'{"message":"BuildKit is not supported by this engine; set DOCKER_BUILDKIT=0"}\n',
    )
    client.request("POST", "/v1.44/grpc")
    assert client.read_response()[0] == 501
    client.request("GET", "/v1.44/services")
    status, _, body = client.read_response()
    assert status == 503
    assert body.startswith(b'{"message":"This node is not a swarm manager. Use \\"docker swarm init\\"')
    client.request("GET", "/v1.44/plugins/foo/json")
    assert client.read_response()[::2] == (404, b'{"message":"plugin \\"foo\\" not found"}\n')
