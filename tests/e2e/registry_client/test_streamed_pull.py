"""The first layer of a pull unpacks while it downloads: a blob whose bytes are a valid layer but not its digest,
or a kill -9 in the middle of the stream, leave no layer, no blob and no half-unpacked directory behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from tests.daemon_harness import Daemon, running_daemon
from tests.e2e.registry_client.fake_registry import FakeRegistry, serving
from tests.e2e.registry_client.images import layer_tar, make_image

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with serving(FakeRegistry()) as reg:
        yield reg


def _wait_for(cond: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _leftovers(d: Daemon) -> list[str]:
    """Unfinished unpacks and ingests, blobs, and layer directories on disk."""
    snaps = os.path.join(d.data_root, "snapshots")
    content = os.path.join(d.data_root, "content")
    found = [f"snapshots/{n}" for n in os.listdir(snaps) if n != "l"] if os.path.isdir(snaps) else []
    for sub in ("ingest", "blobs/sha256"):
        path = os.path.join(content, sub)
        found += [f"content/{sub}/{n}" for n in os.listdir(path)] if os.path.isdir(path) else []
    return found


def test_a_valid_layer_under_the_wrong_digest_leaves_nothing(fake: FakeRegistry) -> None:
    img = make_image([layer_tar({"first": os.urandom(400_000)})], how="")
    impostor = make_image([layer_tar({"other": os.urandom(400_000)})], how="")  # the same size
    fake.add_image("swapped", "1", img)
    fake.blobs[img.layers[0].digest] = impostor.layers[0].data  # unpacks fine, verifies never
    with running_daemon() as d:
        res = d.berth("pull", f"{fake.host}/swapped:1")
        assert res.returncode == 1
        assert "verification failed" in res.stderr.decode()
        assert d.berth("image", "inspect", f"{fake.host}/swapped:1").returncode == 1
        assert [p for p in _leftovers(d) if not p.endswith(img.config.digest.split(":")[1])] == []


def test_kill9_while_the_first_layer_streams_leaves_nothing_half_present(fake: FakeRegistry) -> None:
    img = make_image([layer_tar({f"f{i}": os.urandom(60_000) for i in range(60)})])
    blob = img.layers[0].digest
    fake.add_image("streamed", "1", img)
    fake.slow[blob] = 0.05
    with running_daemon() as d:
        cli = subprocess.Popen([sys.executable, "-m", "berth.cli.main", "pull", f"{fake.host}/streamed:1"],
                               env=d.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            snaps = os.path.join(d.data_root, "snapshots")
            _wait_for(lambda: any(n.startswith("ingest-") for n in os.listdir(snaps)))  # unpacking has begun
            d.kill9()
        finally:
            cli.kill()
            cli.wait()
        fake.slow.clear()
        d.start()
        assert d.berth("image", "inspect", f"{fake.host}/streamed:1").returncode == 1
        assert [p for p in _leftovers(d) if not p.endswith(img.config.digest.split(":")[1])] == []
        res = d.berth("pull", f"{fake.host}/streamed:1")
        assert res.returncode == 0, res.stderr.decode()
        assert d.berth("image", "inspect", f"{fake.host}/streamed:1").returncode == 0
