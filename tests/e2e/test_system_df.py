"""`system df` and sizes (`ps -s`, `inspect -s`) reflect what the containers and images really use."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.daemon_harness import Daemon, ok, running_daemon

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def daemon(busybox_tar: bytes) -> Iterator[Daemon]:
    with running_daemon() as d:
        d.import_busybox(busybox_tar)
        ok(d.docker("run", "--name", "writer", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /blob"))
        ok(d.docker("commit", "writer", "derived:1"))
        yield d


def test_df_counts_layers_once_and_shared_layers_per_image(daemon: Daemon) -> None:
    body = json.loads(ok(daemon.docker("system", "df", "--format", "{{json .}}")).splitlines()[0])
    assert body["Type"] == "Images"
    assert body["TotalCount"] == "2"
    assert body["Active"] == "1"  # busybox has a container; derived:1 has none
    from tests.daemon_harness import api_json

    status, df = api_json(daemon.sock, "GET", "/v1.44/system/df")
    assert status == 200
    assert isinstance(df, dict)
    by_tag = {i["RepoTags"][0]: i for i in df["Images"]}
    base, derived = by_tag["busybox:latest"], by_tag["derived:1"]
    assert base["SharedSize"] == base["Size"]  # all of busybox's layer is shared with derived:1
    assert derived["Size"] - derived["SharedSize"] >= 300000  # the committed layer is its own
    assert df["LayersSize"] == derived["Size"]  # the base layer counted once
    assert (base["Containers"], derived["Containers"]) == (1, 0)
    (writer,) = df["Containers"]
    assert 300000 <= writer["SizeRw"] < 400000
    assert writer["SizeRootFs"] == writer["SizeRw"] + base["Size"]
    assert df["Volumes"] == [] and df["BuildCache"] == []  # noqa: PT018


def test_df_type_filter_and_bad_type(daemon: Daemon) -> None:
    from tests.daemon_harness import api_json

    status, df = api_json(daemon.sock, "GET", "/v1.44/system/df?type=container")
    assert status == 200
    assert isinstance(df, dict)
    assert set(df) == {"Containers"}
    status, err = api_json(daemon.sock, "GET", "/v1.44/system/df?type=nope")
    assert status == 400
    assert err == {"message": "invalid type: nope"}


def test_ps_and_inspect_sizes(daemon: Daemon) -> None:
    out = ok(daemon.docker("ps", "-as", "--format", "{{.Names}} {{.Size}}"))
    assert "writer 300kB (virtual" in out
    sizes = ok(daemon.docker("inspect", "-s", "--format", "{{.SizeRw}}", "writer")).strip()
    assert 300000 <= int(sizes) < 400000
    berth = ok(daemon.berth("system", "df"))
    assert berth.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert berth.splitlines()[2].split()[:3] == ["Containers", "1", "0"]
