"""Pulls from a scriptable loopback registry: platforms, zstd, bearer tokens, mirrors, and hostile input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon_harness import Daemon, api_json, ok, running_daemon
from tests.e2e.registry_client.fake_registry import FakeRegistry, serving
from tests.e2e.registry_client.images import Blob, Image, layer_tar, make_image, make_index
from tests.e2e.registry_client.registries import Registry

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with serving(FakeRegistry()) as reg:
        yield reg


def _visible(d: Daemon, blob: str) -> bool:
    return os.path.exists(os.path.join(d.data_root, "content", "blobs", "sha256", blob.split(":", 1)[1]))


def _arch_image(busybox_tar: bytes, arch: str, oci: bool, variant: str = "") -> Image:
    extra = layer_tar({"arch": f"{arch}{variant}\n".encode()})
    return make_image([busybox_tar, extra], arch=arch, oci=oci, variant=variant)


@pytest.mark.parametrize("oci", [True, False], ids=["oci-index", "docker-list"])
def test_platform_selection(berthd: Daemon, fake: FakeRegistry, busybox_tar: bytes, oci: bool) -> None:
    amd, arm = _arch_image(busybox_tar, "amd64", oci), _arch_image(busybox_tar, "arm64", oci, "v8")
    index = make_index([(amd, {"os": "linux", "architecture": "amd64"}),
                        (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"})], oci=oci)
    repo = f"multi{uuid.uuid4().hex[:6]}"
    for img in (amd, arm):
        fake.add_image(repo, img.manifest.digest, img)
    fake.add_manifest(repo, "1", index)
    ref = f"{fake.host}/{repo}:1"
    out = ok(berthd.berth("pull", "--platform", "linux/arm64", ref))
    assert f"Digest: {index.digest}" in out
    info = json.loads(ok(berthd.berth("image", "inspect", ref)))[0]
    assert info["Architecture"] == "arm64"
    assert info["Id"] == arm.id
    assert f"{fake.host}/{repo}@{index.digest}" in info["RepoDigests"]
    ok(berthd.berth("pull", ref))
    assert json.loads(ok(berthd.berth("image", "inspect", ref)))[0]["Id"] == amd.id
    assert ok(berthd.berth("run", "--rm", ref, "cat", "/arch")).strip() == "amd64"
    res = berthd.berth("pull", "--platform", "linux/s390x", ref)
    assert res.returncode == 1
    assert "no matching manifest for linux/s390x" in res.stderr.decode()


def test_zstd_and_plain_layers(berthd: Daemon, fake: FakeRegistry, busybox_tar: bytes) -> None:
    for how in ("zstd", ""):
        extra = layer_tar({"how": f"compressed={how or 'none'}\n".encode()})
        img = make_image([busybox_tar, extra], how=how, oci=True)
        repo = f"z{uuid.uuid4().hex[:6]}"
        fake.add_image(repo, "1", img)
        ref = f"{fake.host}/{repo}:1"
        assert "Pull complete" in ok(berthd.berth("pull", ref))
        assert ok(berthd.berth("run", "--rm", ref, "cat", "/how")).strip() == f"compressed={how or 'none'}"


def _layer(seed: str, size: int = 300_000) -> bytes:
    return layer_tar({f"data-{seed}": os.urandom(size)})


def _assert_nothing_stored(d: Daemon, ref: str, blobs: list[str]) -> None:
    assert d.berth("image", "inspect", ref).returncode == 1
    for blob in blobs:
        assert not _visible(d, blob), blob


def test_bad_input_is_refused_and_nothing_is_stored(berthd: Daemon, fake: FakeRegistry) -> None:
    # a blob whose bytes are not its digest
    img = make_image([_layer("a"), _layer("b")])
    fake.add_image("badblob", "1", img)
    good = img.layers[1].data
    fake.blobs[img.layers[1].digest] = bytes(reversed(good))
    res = berthd.berth("pull", f"{fake.host}/badblob:1")
    assert res.returncode == 1
    assert "verification failed" in res.stderr.decode()
    _assert_nothing_stored(berthd, f"{fake.host}/badblob:1", [b.digest for b in img.layers])
    # a missing blob
    img = make_image([_layer("c")])
    fake.add_image("missing", "1", img)
    del fake.blobs[img.layers[0].digest]
    res = berthd.berth("pull", f"{fake.host}/missing:1")
    assert res.returncode == 1
    assert "blob unknown" in res.stderr.decode()
    _assert_nothing_stored(berthd, f"{fake.host}/missing:1", [img.layers[0].digest, img.config.digest])
    # a manifest asked by digest whose bytes differ
    img = make_image([_layer("d")])
    fake.blobs.update(img.blobs)
    other = make_image([_layer("e")])
    fake.manifests[("mdigest", img.manifest.digest)] = (img.manifest.media_type, other.manifest.data)
    res = berthd.berth("pull", f"{fake.host}/mdigest@{img.manifest.digest}")
    assert res.returncode == 1
    assert "manifest verification failed" in res.stderr.decode()
    # an oversized manifest
    big = Blob(b'{"schemaVersion":2,"pad":"' + b"x" * (5 << 20) + b'"}', img.manifest.media_type)
    fake.add_manifest("big", "1", big)
    res = berthd.berth("pull", f"{fake.host}/big:1")
    assert res.returncode == 1
    assert "manifest too large" in res.stderr.decode()
    # a hostile layer: a member climbing out of the layer
    evil_name = f"../../../../tmp/berth-evil-{uuid.uuid4().hex[:8]}"
    hostile = make_image([layer_tar({"ok": b"1", evil_name: b"pwned"})])
    fake.add_image("hostile", "1", hostile)
    res = berthd.berth("pull", f"{fake.host}/hostile:1")
    assert res.returncode == 1
    assert "outside of the layer root" in res.stderr.decode()
    assert not os.path.exists("/tmp/" + evil_name.rsplit("/", 1)[1])
    _assert_nothing_stored(berthd, f"{fake.host}/hostile:1", [hostile.layers[0].digest])


def test_bearer_token_login_and_pull(berthd: Daemon, fake: FakeRegistry) -> None:
    fake.bearer = ("bob", "hunter2")
    img = make_image([_layer("t", 1000)])
    fake.add_image("secret/app", "1", img)
    ref = f"{fake.host}/secret/app:1"
    res = berthd.berth("pull", ref)
    assert res.returncode == 1
    assert "incorrect username or password" in res.stderr.decode()
    bad = berthd.berth("login", "-u", "bob", "--password-stdin", fake.host, input=b"nope\n")
    assert bad.returncode == 1
    assert "401 Unauthorized" in bad.stderr.decode()
    ok(berthd.berth("login", "-u", "bob", "--password-stdin", fake.host, input=b"hunter2\n"))
    try:
        assert "Pull complete" in ok(berthd.berth("pull", ref))
    finally:
        ok(berthd.berth("logout", fake.host))


def test_registry_mirror_serves_docker_hub_names(fake: FakeRegistry) -> None:
    img = make_image([_layer("m", 1000)])
    fake.add_image("library/mirrored", "latest", img)
    with running_daemon(["--registry-mirror", f"http://{fake.host}"]) as d:
        out = ok(d.berth("pull", "mirrored"))
        assert "Status: Downloaded newer image for mirrored:latest" in out
        assert out.rstrip().endswith("docker.io/library/mirrored:latest")
        assert json.loads(ok(d.berth("image", "inspect", "mirrored")))[0]["Id"] == img.id


def _wait_for(cond: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kill9_mid_pull_then_pull_reuses_verified_blobs(fake: FakeRegistry) -> None:
    small, large = _layer("k1", 200_000), _layer("k2", 3_000_000)
    img = make_image([small, large], how="")
    fake.add_image("resume", "1", img)
    fast, slow = img.layers[0].digest, img.layers[1].digest
    fake.slow[slow] = 0.05
    with running_daemon() as d:
        cli = subprocess.Popen([sys.executable, "-m", "berth.cli.main", "pull", f"{fake.host}/resume:1"],
                               env=d.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(lambda: _visible(d, fast) and fake.blob_gets[slow] == 1)
            d.kill9()
        finally:
            cli.kill()
            cli.wait()
        assert not _visible(d, slow)
        fake.slow.clear()
        d.start()
        assert _visible(d, fast), "a verified blob survives the crash (leased)"
        out = ok(d.berth("pull", f"{fake.host}/resume:1"))
        assert "Pull complete" in out
        assert fake.blob_gets[fast] == 1
        assert fake.blob_gets[slow] == 2


def test_concurrent_pulls_download_each_blob_once(fake: FakeRegistry) -> None:
    img = make_image([_layer("c1", 1_000_000), _layer("c2", 1_000_000)])
    fake.add_image("twice", "1", img)
    for layer in img.layers:
        fake.slow[layer.digest] = 0.03
    with running_daemon() as d:
        procs = [subprocess.Popen([sys.executable, "-m", "berth.cli.main", "pull", f"{fake.host}/twice:1"],
                                  env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
        for blob in [img.config.digest, *(layer.digest for layer in img.layers)]:
            assert fake.blob_gets[blob] == 1, blob
        assert json.loads(ok(d.berth("image", "inspect", f"{fake.host}/twice:1")))[0]["Id"] == img.id


def test_pulled_image_is_pushed_with_its_own_manifest(berthd: Daemon, fake: FakeRegistry, registry: Registry) -> None:
    img = make_image([_layer("o1", 5000), layer_tar({"keep": b"exact bytes\n"})], how="zstd", oci=True)
    fake.add_image("orig", "1", img)
    ok(berthd.berth("pull", f"{fake.host}/orig:1"))
    target = f"{registry.host}/copy{uuid.uuid4().hex[:6]}:1"
    ok(berthd.berth("tag", f"{fake.host}/orig:1", target))
    out = ok(berthd.berth("push", target))
    assert f"1: digest: {img.manifest.digest} size: {len(img.manifest.data)}" in out


def test_pulled_image_saves_and_loads(berthd: Daemon, fake: FakeRegistry, busybox_tar: bytes, tmp_path: Path) -> None:
    img = make_image([busybox_tar, layer_tar({"saved": b"yes\n"})])
    fake.add_image("saveme", "1", img)
    ref = f"{fake.host}/saveme:1"
    ok(berthd.berth("pull", ref))
    archive = tmp_path / "img.tar"
    ok(berthd.berth("save", "-o", str(archive), ref))
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        manifest = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))  # type: ignore[arg-type]
    assert {layer["mediaType"] for layer in manifest["layers"]} >= {"application/vnd.oci.image.layer.v1.tar+gzip"}
    ok(berthd.berth("rmi", ref))
    ok(berthd.berth("load", "-i", str(archive)))
    assert ok(berthd.berth("run", "--rm", ref, "cat", "/saved")).strip() == "yes"


def test_explicit_platform_must_match_a_single_manifest(berthd: Daemon, fake: FakeRegistry) -> None:
    img = make_image([_layer("p", 1000)], arch="amd64")
    fake.add_image("single", "1", img)
    res = berthd.berth("pull", "--platform", "linux/arm64", f"{fake.host}/single:1")
    assert res.returncode == 1
    assert "does not match the specified platform (linux/arm64)" in res.stderr.decode()


def test_api_progress_stream_and_errors(berthd: Daemon, fake: FakeRegistry) -> None:
    img = make_image([_layer("s1", 400_000), _layer("s2", 400_000)])
    fake.add_image("stream", "1", img)
    for layer in img.layers:
        fake.slow[layer.digest] = 0.12
    status, body = api_json(berthd.sock, "POST", f"/v1.44/images/create?fromImage={fake.host}/stream&tag=1")
    assert status == 200
    assert isinstance(body, str)
    msgs = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert msgs[0] == {"status": "Pulling from stream", "id": "1"}
    ids = {layer.digest[7:19] for layer in img.layers}
    for lid in ids:
        mine = [m for m in msgs if m.get("id") == lid]
        statuses = [m["status"] for m in mine]
        assert statuses[0] == "Pulling fs layer"
        assert statuses[-1] == "Pull complete"
        for wanted in ("Downloading", "Verifying Checksum", "Download complete", "Extracting"):
            assert wanted in statuses, statuses
        down = next(m for m in mine if m["status"] == "Downloading")
        assert set(down) == {"status", "progressDetail", "progress", "id"}
        assert down["progressDetail"]["total"] == next(len(b.data) for b in img.layers if b.digest[7:19] == lid)
        assert next(m for m in mine if m["status"] == "Pull complete")["progressDetail"] == {}
    assert msgs[-2] == {"status": f"Digest: {img.manifest.digest}"}
    assert msgs[-1] == {"status": f"Status: Downloaded newer image for {fake.host}/stream:1"}
    status, body = api_json(berthd.sock, "POST", f"/v1.44/images/create?fromImage={fake.host}/stream&tag=nope")
    assert status == 404
    assert body == {"message": f"manifest for {fake.host}/stream:nope not found: manifest unknown: manifest unknown"}
    fake.blobs.pop(img.layers[1].digest)
    ok(berthd.berth("rmi", f"{fake.host}/stream:1"))
    status, body = api_json(berthd.sock, "POST", f"/v1.44/images/create?fromImage={fake.host}/stream&tag=1")
    assert status == 200
    assert isinstance(body, str)
    last = json.loads(body.strip().splitlines()[-1])
    assert "blob unknown" in last["error"]
    assert last["errorDetail"]["message"] == last["error"]


def test_a_cut_download_is_retried(berthd: Daemon, fake: FakeRegistry) -> None:
    img = make_image([_layer("r", 500_000)])
    fake.add_image("retry", "1", img)
    fake.cut_once.add(img.layers[0].digest)
    out = ok(berthd.berth("pull", f"{fake.host}/retry:1"))
    assert "Retrying in 1 second" in out
    assert "Pull complete" in out
    assert fake.blob_gets[img.layers[0].digest] == 2


def test_a_client_gone_does_not_break_a_shared_download(fake: FakeRegistry) -> None:
    img = make_image([_layer("g1", 1_500_000)])
    fake.add_image("shared", "1", img)
    blob = img.layers[0].digest
    fake.slow[blob] = 0.05
    with running_daemon() as d:
        cmd = [sys.executable, "-m", "berth.cli.main", "pull", f"{fake.host}/shared:1"]
        first = subprocess.Popen(cmd, env=d.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(lambda: fake.blob_gets[blob] == 1)
            second = subprocess.Popen(cmd, env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert second.stdout is not None
            seen = b""
            while b"Waiting" not in seen and b"Download complete" not in seen:  # it joined the download
                line = second.stdout.readline()
                assert line, "the second pull ended early"
                seen += line
        finally:
            first.kill()
            first.wait()
        out, errs = second.communicate(timeout=120)
        assert second.returncode == 0, errs.decode()
        assert "Pull complete" in (seen + out).decode()
        assert fake.blob_gets[blob] == 1


def test_download_limit_makes_layers_wait(fake: FakeRegistry) -> None:
    img = make_image([_layer(f"w{i}", 600_000) for i in range(3)])
    fake.add_image("limited", "1", img)
    for layer in img.layers:
        fake.slow[layer.digest] = 0.05
    with running_daemon(["--max-concurrent-downloads", "1"]) as d:
        out = ok(d.berth("pull", f"{fake.host}/limited:1"))
    assert out.count(": Waiting") >= 1
    assert out.count("Pull complete") == 3
