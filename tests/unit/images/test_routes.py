"""Image routes over a real in-process API server: import upload, list/inspect/tag/history/rmi/prune, pulls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from berth.api.routes import images as image_routes
from berth.daemon.images.service import ImagesService
from tests.unit.api.harness import RawClient, running_api
from tests.unit.images.conftest import Users, make_tar

TAR = make_tar({"etc/hello": b"hello\n"})


@pytest.fixture
def client(svc: ImagesService) -> Iterator[RawClient]:
    with running_api([image_routes.routes(svc)]) as (path, _lt):
        c = RawClient(path)
        try:
            yield c
        finally:
            c.close()


def call(c: RawClient, method: str, target: str, body: bytes = b"") -> tuple[int, object]:
    c.request(method, target, body)
    status, headers, raw = c.read_response()
    if headers.get("content-type", "").startswith("application/json") and raw:
        return status, json.loads(raw)
    return status, raw


def upload(c: RawClient, query: str, data: bytes) -> tuple[int, bytes]:
    """`docker import -` sends the tar as a chunked body."""
    head = f"POST /v1.44/images/create?{query} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 1000]), data[i:i + 1000]) for i in range(0, len(data), 1000))
    c.send(head.encode() + body + b"0\r\n\r\n")
    status, _, raw = c.read_response()
    return status, raw


def test_import_upload_then_list_inspect_history(client: RawClient) -> None:
    changes = "&".join("changes=" + quote(x) for x in ('CMD ["cat","/etc/hello"]', "ENV A=1"))
    status, raw = upload(client, f"fromSrc=-&repo=foo/bar&tag=v1&message=&{changes}", TAR)
    assert status == 200
    assert raw.endswith(b"\r\n")
    image_id = json.loads(raw)["status"]
    assert image_id.startswith("sha256:")

    status, listing = call(client, "GET", "/v1.44/images/json")
    assert status == 200
    assert isinstance(listing, list)
    assert [(i["Id"], i["RepoTags"]) for i in listing] == [(image_id, ["foo/bar:v1"])]
    assert "VirtualSize" not in listing[0]

    status, doc = call(client, "GET", "/v1.44/images/foo/bar:v1/json")
    assert status == 200
    assert isinstance(doc, dict)
    assert doc["Config"]["Cmd"] == ["cat", "/etc/hello"]
    assert doc["Config"]["Env"] == ["A=1"]

    status, rows = call(client, "GET", "/images/foo/bar:v1/history")
    assert status == 200
    assert isinstance(rows, list)
    assert rows[0]["Comment"] == "Imported from -"


def test_missing_image_and_pull_are_404(client: RawClient) -> None:
    assert call(client, "GET", "/v1.44/images/nope/json") == (404, {"message": "No such image: nope:latest"})
    status, body = call(client, "POST", "/v1.44/images/create?fromImage=nothere&tag=latest")
    assert status == 404
    assert isinstance(body, dict)
    assert body["message"].startswith(
        "pull access denied for nothere, repository does not exist or may require 'docker login'"
    )


def test_tag_rmi_and_conflicts(client: RawClient, svc: ImagesService, users: Users) -> None:
    status, raw = upload(client, "fromSrc=-&repo=app", TAR)
    image_id = json.loads(raw)["status"]
    assert call(client, "POST", "/v1.44/images/app/tag?repo=other&tag=2")[0] == 201
    assert sorted(svc.get(image_id).repo_tags()) == ["app:latest", "other:2"]
    assert call(client, "DELETE", "/v1.44/images/other:2") == (200, [{"Untagged": "other:2"}])
    users.by_image[image_id] = ["e" * 64]
    status, body = call(client, "DELETE", "/v1.44/images/app")
    assert status == 409
    assert isinstance(body, dict)
    assert "container eeeeeeeeeeee is using its referenced image" in body["message"]
    status, records = call(client, "DELETE", "/v1.44/images/app?force=1")
    assert status == 200
    assert isinstance(records, list)
    assert records[0] == {"Untagged": "app:latest"}


def test_old_api_versions_get_placeholders_and_virtual_size(client: RawClient) -> None:
    upload(client, "fromSrc=-", TAR)
    status, listing = call(client, "GET", "/v1.41/images/json")
    assert status == 200
    assert isinstance(listing, list)
    assert listing[0]["RepoTags"] == ["<none>:<none>"]
    assert listing[0]["RepoDigests"] == ["<none>@<none>"]
    assert listing[0]["VirtualSize"] == listing[0]["Size"]
    status, listing = call(client, "GET", "/v1.43/images/json")
    assert isinstance(listing, list)
    assert listing[0]["RepoTags"] == []


def test_prune_route(client: RawClient) -> None:
    upload(client, "fromSrc=-", TAR)
    status, report = call(client, "POST", "/v1.44/images/prune?filters=" + quote('{"dangling":["true"]}'))
    assert status == 200
    assert isinstance(report, dict)
    assert len(report["ImagesDeleted"]) == 2
    assert report["SpaceReclaimed"] == len(TAR)
    assert call(client, "GET", "/v1.44/images/json") == (200, [])


def test_bad_upload_is_a_400_and_leaves_nothing(client: RawClient, svc: ImagesService) -> None:
    status, raw = upload(client, "fromSrc=-&repo=x&changes=" + quote("RUN true"), TAR)
    assert status == 400
    assert json.loads(raw) == {"message": "RUN is not a valid change command"}
    assert svc.list() == []
    assert list(svc.content.walk()) == []


def test_save_and_load_routes(client: RawClient, svc: ImagesService) -> None:
    status, raw = upload(client, "fromSrc=-&repo=saved&tag=1", TAR)
    image_id = json.loads(raw)["status"]
    client.request("GET", "/v1.44/images/get?names=saved%3A1")
    status, headers, archive = client.read_response()
    assert status == 200
    assert headers["content-type"] == "application/x-tar"
    client.request("GET", "/v1.44/images/saved:1/get")
    assert client.read_response()[2] == archive
    assert call(client, "DELETE", "/v1.44/images/saved:1")[0] == 200
    status, raw = upload_to(client, "/v1.44/images/load?quiet=1", archive)
    assert status == 200
    assert raw == b'{"stream":"Loaded image: saved:1\\n"}\r\n'
    assert svc.get("saved:1").id == image_id
    assert call(client, "GET", "/v1.44/images/get?names=nope")[0] == 404


def upload_to(c: RawClient, target: str, data: bytes) -> tuple[int, bytes]:
    head = f"POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-tar\r\n\r\n"
    body = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 999]), data[i:i + 999]) for i in range(0, len(data), 999))
    c.send(head.encode() + body + b"0\r\n\r\n")
    status, _, raw = c.read_response()
    return status, raw


def test_commit_route(client: RawClient, svc: ImagesService) -> None:
    status, raw = upload(client, "fromSrc=-&repo=base", TAR)
    base = json.loads(raw)["status"]
    assert call(client, "POST", "/v1.44/commit?container=c1&repo=x")[0] == 501
    svc.container_info = lambda ref: ("c" * 64, base, {"Cmd": ["sh"], "Env": ["A=1"]})
    upper = svc.layer_dirs("c" * 64, base)[0]
    with open(f"{upper}/added", "w") as f:
        f.write("new")
    target = "/v1.44/commit?container=c1&repo=committed&tag=v2&comment=snap&author=me&changes=" + quote("ENV B=2")
    client.request("POST", target, json.dumps({"Labels": {"k": "v"}, "Cmd": None}).encode(),
                   {"Content-Type": "application/json"})
    status, _, body = client.read_response()
    assert status == 201
    image_id = json.loads(body)["Id"]
    doc = svc.inspect("committed:v2")
    assert doc["Id"] == image_id
    assert doc["Parent"] == base
    assert doc["Config"]["Env"] == ["A=1", "B=2"]
    assert doc["Config"]["Labels"] == {"k": "v"}
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["Author"] == "me"
    assert len(doc["RootFS"]["Layers"]) == 2
    assert svc.history("committed:v2")[0]["Comment"] == "snap"
