"""More commands against the fake daemon: top, rename, export, images/rmi/tag/history, import, prunes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.cli.conftest import Engine
from tests.unit.client.fakedaemon import Req, send_chunks

Berth = Callable[..., tuple[int, str, str]]


def test_top_table(engine: Engine, berth: Berth) -> None:
    engine.daemon.route("GET", "/containers/([^/]+)/top")(lambda req, c: {
        "Titles": ["UID", "PID", "CMD"], "Processes": [["root", "4242", "nginx: master"]], "Q": req.query})
    code, out, _ = berth("top", "web", "-ef")
    assert code == 0
    assert out.splitlines() == ["UID                 PID                 CMD",
                                "root                4242                nginx: master"]
    assert engine.last("GET /containers/web/top").q("ps_args") == "-ef"


def test_rename_and_export(engine: Engine, berth: Berth, tmp_path: Path) -> None:
    assert berth("rename", "web", "web2")[0] == 0
    assert engine.last("POST /containers/web/rename").q("name") == "web2"

    def export(req: Req, cid: str) -> None:
        send_chunks(req, [b"tar-bytes-1", b"tar-bytes-2"], "application/x-tar")
    engine.daemon.route("GET", "/containers/([^/]+)/export")(export)
    target = tmp_path / "out.tar"
    assert berth("export", "-o", str(target), "web")[0] == 0
    assert target.read_bytes() == b"tar-bytes-1tar-bytes-2"
    assert berth("container", "export", "web")[1] == "tar-bytes-1tar-bytes-2"


def test_images_quiet_and_no_trunc(engine: Engine, berth: Berth) -> None:
    assert berth("images", "-q")[1] == "abababababab\nabababababab\nefefefefefef\n"
    out = berth("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")[1]
    assert out.splitlines()[0] == "sha256:" + "ab" * 32 + " nginx:latest"
    berth("images", "nginx")
    assert json.loads(engine.daemon.requests[-1].q("filters") or "") == {"reference": {"nginx": True}}


def test_rmi_tag_history(engine: Engine, berth: Berth) -> None:
    engine.daemon.route("DELETE", "/images/(.+)")(lambda req, n: [
        {"Untagged": "nginx:latest"}, {"Deleted": "sha256:" + "ab" * 32}] if n == "nginx" else (
        {"message": f"No such image: {n}:latest"}, 404))
    code, out, err = berth("rmi", "nginx", "ghost")
    assert code == 1
    assert out == f"Untagged: nginx:latest\nDeleted: sha256:{'ab' * 32}\n"
    assert err == "Error response from daemon: No such image: ghost:latest\n"
    engine.daemon.route("POST", "/images/(.+)/tag")(lambda req, n: (None, 204))
    assert berth("tag", "nginx", "localhost:5000/web:v1")[0] == 0
    tag = engine.last("POST /images/nginx/tag")
    assert (tag.q("repo"), tag.q("tag")) == ("localhost:5000/web", "v1")
    engine.daemon.route("GET", "/images/(.+)/history")(lambda req, n: [
        {"Id": "sha256:" + "ab" * 32, "Created": 0, "CreatedBy": "/bin/sh -c #(nop)  CMD [\"nginx\"]",
         "Size": 0, "Comment": ""},
        {"Id": "<missing>", "Created": 0, "CreatedBy": "x" * 60, "Size": 1234567, "Comment": "imported"}])
    lines = berth("history", "nginx")[1].splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith("abababababab")
    assert "/bin/sh -c #(nop)  CMD [\"nginx\"]" in lines[1]
    assert "x" * 44 + "…" in lines[2]
    assert "1.23MB" in lines[2]
    assert berth("history", "-H=false", "-q", "nginx")[1] == "abababababab\n<missing>\n"


def test_import_streams_the_tarball(engine: Engine, berth: Berth, tmp_path: Path) -> None:
    got: dict[str, Any] = {}

    def create(req: Req) -> None:
        got.update(body=req.body, query=req.query)
        send_chunks(req, [b'{"status":"sha256:' + b"12" * 32 + b'"}\r\n'])
    engine.daemon.route("POST", "/images/create")(create)
    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(b"T" * 200000)
    code, out, _ = berth("import", "-c", "CMD [\"sh\"]", "-m", "msg", str(tarball), "myimg:1")
    assert (code, out) == (0, "sha256:" + "12" * 32 + "\n")
    assert got["body"] == b"T" * 200000
    assert got["query"]["fromSrc"] == ["-"]
    assert (got["query"]["repo"], got["query"]["tag"]) == (["myimg"], ["1"])
    assert got["query"]["changes"] == ['CMD ["sh"]']
    assert got["query"]["message"] == ["msg"]


def test_prunes_and_prompt(engine: Engine, berth: Berth, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.daemon.route("POST", "/containers/prune")(lambda req: {"ContainersDeleted": ["a" * 64],
                                                                   "SpaceReclaimed": 2048})
    code, out, _ = berth("container", "prune", "-f")
    assert (code, out) == (0, f"Deleted Containers:\n{'a' * 64}\n\nTotal reclaimed space: 2.05kB\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, _ = berth("container", "prune")
    assert "Are you sure you want to continue? [y/N]" in out
    assert engine.daemon.paths().count("POST /containers/prune") == 1
    engine.daemon.route("POST", "/images/prune")(lambda req: {"ImagesDeleted": [{"Deleted": "sha256:x"}],
                                                               "SpaceReclaimed": 0, "F": req.query})
    code, out, _ = berth("image", "prune", "-a", "-f")
    assert out == "Deleted Images:\ndeleted: sha256:x\n\nTotal reclaimed space: 0B\n"
    filters = json.loads(engine.last("POST /images/prune").q("filters") or "")
    assert filters == {"dangling": {"false": True}}


def test_image_inspect_type_and_info(engine: Engine, berth: Berth) -> None:
    code, out, _ = berth("image", "inspect", "-f", "{{.Id}}", "nginx")
    assert (code, out) == (0, "sha256:" + "ab" * 32 + "\n")
    code, _, err = berth("inspect", "--type", "image", "web")
    assert (code, err) == (1, "Error response from daemon: No such image: web\n")
    engine.daemon.route("GET", "/info")(lambda req: {"Containers": 2, "ContainersRunning": 1,
                                                     "ServerVersion": "0.1.0", "MemTotal": 2_000_000_000,
                                                     "Debug": False})
    out = berth("info")[1]
    assert " Containers: 2\n  Running: 1\n" in out
    assert " Total Memory: 1.863GiB\n" in out
    assert berth("info", "--format", "{{.ServerVersion}}")[1] == "0.1.0\n"


def test_port_diff_commit(engine: Engine, berth: Berth) -> None:
    from tests.unit.cli.conftest import INSPECT
    ports = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
             "53/udp": None}
    engine.daemon.route("GET", "/containers/([^/]+)/json")(
        lambda req, n: {**INSPECT, "NetworkSettings": {"Ports": ports}})
    assert berth("port", "web") == (0, "80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n", "")
    assert berth("port", "web", "80") == (0, "0.0.0.0:8080\n[::]:8080\n", "")
    assert berth("port", "web", "81") == (1, "", "Error: No public port '81' published for web\n")
    engine.daemon.route("GET", "/containers/([^/]+)/changes")(lambda req, n: [
        {"Path": "/tmp", "Kind": 0}, {"Path": "/tmp/f", "Kind": 1}, {"Path": "/etc/x", "Kind": 2}])
    assert berth("diff", "web")[1] == "C /tmp\nA /tmp/f\nD /etc/x\n"
    engine.daemon.route("POST", "/commit")(lambda req: ({"Id": "sha256:" + "7" * 64}, 201))
    assert berth("commit", "-c", "ENV X=1", "web", "snap:1")[1] == "sha256:" + "7" * 64 + "\n"
    q = engine.last("POST /commit").query
    assert (q["container"], q["repo"], q["tag"], q["changes"], q["pause"]) == (
        ["web"], ["snap"], ["1"], ["ENV X=1"], ["1"])


def test_save_load_events(engine: Engine, berth: Berth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.daemon.route("GET", "/images/get")(
        lambda req: send_chunks(req, [b"TAR", b"BALL"], "application/x-tar"))
    target = tmp_path / "img.tar"
    assert berth("save", "-o", str(target), "nginx", "busybox")[0] == 0
    assert target.read_bytes() == b"TARBALL"
    assert engine.last("GET /images/get").query["names"] == ["nginx", "busybox"]

    def load(req: Req) -> None:
        send_chunks(req, [b'{"stream":"Loaded image: nginx:latest\\n"}\r\n'])
    engine.daemon.route("POST", "/images/load")(load)
    assert berth("load", "-i", str(target)) == (0, "Loaded image: nginx:latest\n", "")
    assert engine.last("POST /images/load").body == b"TARBALL"
    missing = tmp_path / "none.tar"
    assert berth("load", "-i", str(missing))[2] == f"open {missing}: no such file or directory\n"
    event = {"status": "start", "id": "c1", "from": "busybox", "Type": "container", "Action": "start",
             "Actor": {"ID": "c1", "Attributes": {"name": "web", "image": "busybox"}}, "scope": "local",
             "time": 1700000000, "timeNano": 1700000000123456789}
    engine.daemon.route("GET", "/events")(lambda req: send_chunks(req, [json.dumps(event).encode() + b"\r\n"]))
    import time
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        out = berth("events", "--since", "1700000000", "--until", "1700000001")[1]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert out == "2023-11-14T22:13:20.123456789Z container start c1 (image=busybox, name=web)\n"
    assert berth("events", "--format", "{{.Actor.Attributes.name}} {{.Action}}")[1] == "web start\n"
    assert json.loads(berth("events", "--format", "json")[1])["Action"] == "start"
