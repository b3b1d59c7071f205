"""The real docker CLI against berthd's image side: import -c/-m, images, inspect, history, tag, rmi rules,
save/load, prune, and the clean failure of pulls."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.daemon_harness import Daemon, ok

pytestmark = pytest.mark.e2e


def err(res: subprocess.CompletedProcess[bytes]) -> str:
    assert res.returncode != 0, res.stdout
    return res.stderr.decode()


def test_import_with_changes_and_message(berthd: Daemon, busybox_tar: bytes) -> None:
    image_id = ok(berthd.docker("import", "-c", "CMD [\"sh\",\"-c\",\"echo $GREETING\"]", "-c", "ENV GREETING=hi",
                                "-c", "WORKDIR /srv", "-m", "e2e import", "-", "imp/one:1", input=busybox_tar)).strip()
    assert image_id.startswith("sha256:")
    try:
        doc = json.loads(ok(berthd.docker("image", "inspect", "imp/one:1")))[0]
        assert doc["Id"] == image_id
        assert doc["Comment"] == "e2e import"
        assert doc["Config"]["Env"] == ["GREETING=hi"]
        assert doc["Config"]["WorkingDir"] == "/srv"
        assert doc["RepoTags"] == ["imp/one:1"]
        assert ok(berthd.docker("run", "--rm", "imp/one:1")) == "hi\n"
        assert ok(berthd.docker("run", "--rm", "imp/one:1", "pwd")) == "/srv\n"
        history = ok(berthd.docker("history", "--format", "{{.ID}} {{.Comment}}", "imp/one:1")).splitlines()
        assert history == [f"{image_id[7:19]} e2e import"]
        rows = ok(berthd.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "imp/one")).splitlines()
        assert rows == [f"imp/one:1 {image_id[7:19]}"]
    finally:
        berthd.docker("rmi", "-f", "imp/one:1")


def test_rmi_rules_with_a_running_container(berthd: Daemon, busybox_tar: bytes) -> None:
    image_id = ok(berthd.docker("import", "-", "imp/rmi", input=busybox_tar)).strip()
    short = image_id[7:19]
    cid = ok(berthd.docker("run", "-d", "imp/rmi", "sleep", "1000")).strip()
    try:
        assert (f'conflict: unable to remove repository reference "imp/rmi" (must force) - container {cid[:12]} '
                f"is using its referenced image {short}") in err(berthd.docker("rmi", "imp/rmi"))
        assert (f"conflict: unable to delete {short} (cannot be forced) - image is being used by running "
                f"container {cid[:12]}") in err(berthd.docker("rmi", "-f", short))
        ok(berthd.docker("tag", "imp/rmi", "imp/rmi:second"))
        assert ok(berthd.docker("rmi", "imp/rmi:second")) == "Untagged: imp/rmi:second\n"
    finally:
        ok(berthd.docker("rm", "-f", cid))
    out = ok(berthd.docker("rmi", "imp/rmi"))
    assert out.splitlines()[:2] == ["Untagged: imp/rmi:latest", f"Deleted: {image_id}"]
    assert "No such image: imp/rmi:latest" in err(berthd.docker("rmi", "imp/rmi"))


def test_save_load_round_trip(berthd: Daemon, busybox_tar: bytes, tmp_path: Path) -> None:
    image_id = ok(berthd.docker("import", "-c", "CMD [\"echo\",\"loaded\"]", "-", "imp/saved:2",
                                input=busybox_tar)).strip()
    archive = tmp_path / "saved.tar"
    ok(berthd.docker("save", "-o", str(archive), "imp/saved:2"))
    assert archive.stat().st_size > 1_000_000
    ok(berthd.docker("rmi", "imp/saved:2"))
    assert ok(berthd.docker("load", "-i", str(archive))).strip() == "Loaded image: imp/saved:2"
    try:
        assert ok(berthd.docker("image", "inspect", "-f", "{{.Id}}", "imp/saved:2")).strip() == image_id
        assert ok(berthd.docker("run", "--rm", "imp/saved:2")) == "loaded\n"
    finally:
        berthd.docker("rmi", "-f", "imp/saved:2")
    os.unlink(archive)


def test_prune_removes_dangling_images(berthd: Daemon, busybox_tar: bytes) -> None:
    first = ok(berthd.docker("import", "-c", "CMD one", "-", "imp/prune", input=busybox_tar)).strip()
    ok(berthd.docker("import", "-c", "CMD two", "-", "imp/prune", input=busybox_tar))
    dangling = ok(berthd.docker("images", "-q", "--no-trunc", "--filter", "dangling=true")).split()
    assert first in dangling
    out = ok(berthd.docker("image", "prune", "-f"))
    assert f"deleted: {first}" in out
    assert first not in ok(berthd.docker("images", "-q", "--no-trunc", "-a")).split()
    ok(berthd.docker("rmi", "imp/prune"))
    assert ok(berthd.docker("image", "inspect", "-f", "{{.Id}}", "busybox")).startswith("sha256:")


def test_pull_and_run_of_a_missing_image_fail_cleanly(berthd: Daemon) -> None:
    # a loopback registry that is not there: no traffic leaves the machine
    message = ('Get "http://127.0.0.1:1/v2/imp/nothere/manifests/latest": '
               "dial tcp 127.0.0.1:1: connect: connection refused")
    assert message in err(berthd.docker("pull", "127.0.0.1:1/imp/nothere"))
    out = err(berthd.docker("run", "--rm", "127.0.0.1:1/imp/nothere", "true"))
    assert "Unable to find image '127.0.0.1:1/imp/nothere:latest' locally" in out
    assert message in out
