"""`berth registry serve` as a process: foreground, request log on stderr, SIGTERM exit, kill -9 mid-upload."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.registry.helpers import push_blob, sha
from tests.registry.ocidir import make_oci_dir, random_layer

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def serve(root: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The CLI's `registry serve` on a free port; yields (process, base URL); killed in any case."""
    code = "import sys; from berth.cli.main import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "registry", "serve", "--addr", "127.0.0.1:0",
                             "--root", str(root), *extra],
                            cwd=REPO, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        m = re.search(r"listening on (\S+):(\d+)", line)
        assert m, line
        yield proc, f"http://{m.group(1)}:{m.group(2)}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        if proc.stderr is not None:
            proc.stderr.close()


def test_serve_logs_requests_and_exits_on_sigterm(tmp_path: Path) -> None:
    with serve(tmp_path / "root") as (proc, url):
        assert httpx.get(f"{url}/v2/", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert proc.stderr is not None
        log = proc.stderr.read().decode()
    assert '"GET /v2/" 200' in log


def test_sigint_exits_cleanly(tmp_path: Path) -> None:
    with serve(tmp_path / "root") as (proc, url):
        assert httpx.get(f"{url}/v2/", timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0


def test_kill_mid_upload_leaves_nothing_visible(tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = os.urandom(256 * 1024)
    with serve(root) as (proc, url), httpx.Client(base_url=url, timeout=10) as c:
        kept = push_blob(c, "r", b"complete before the kill")
        location = c.post("/v2/r/blobs/uploads/").headers["Location"]
        assert c.patch(location, content=data[:100_000]).status_code == 202
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    with serve(root) as (proc, url), httpx.Client(base_url=url, timeout=10) as c:
        assert c.get(f"/v2/r/blobs/{kept}").content == b"complete before the kill"
        r = c.put(location, params={"digest": sha(data)}, content=data[100_000:])
        assert r.status_code == 404
        assert c.head(f"/v2/r/blobs/{sha(data)}").status_code == 404
        assert c.head(f"/v2/r/blobs/{sha(data[:100_000])}").status_code == 404
        assert os.listdir(root / "content" / "ingest") == []


def test_bad_flags(tmp_path: Path) -> None:
    code = "import sys; from berth.cli.main import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "registry", "serve", "--addr", "127.0.0.1:0"],
                       cwd=REPO, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 2
    assert "--root" in r.stderr


def test_token_auth_from_the_command_line(tmp_path: Path) -> None:
    if not shutil.which("htpasswd") or not shutil.which("skopeo"):
        pytest.skip("needs htpasswd and skopeo")
    users = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(users), "bob", "builder"], check=True, capture_output=True)
    with serve(tmp_path / "root", "--htpasswd", str(users), "--token-realm", "auto") as (_, url):
        r = httpx.get(f"{url}/v2/", timeout=10)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"].startswith(f'Bearer realm="{url}/token"')
        host = url.removeprefix("http://")
        authfile = tmp_path / "auth.json"
        login = subprocess.run(["skopeo", "login", "--tls-verify=false", "--authfile", str(authfile), "-u", "bob",
                                "-p", "builder", host], capture_output=True, text=True, timeout=60)
        assert login.returncode == 0, login.stderr
        image = tmp_path / "image"
        make_oci_dir(str(image), "v1", [random_layer({"f": b"data"})])
        copy = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--authfile", str(authfile),
                               f"oci:{image}:v1", f"docker://{host}/team/app:v1"],
                              capture_output=True, text=True, timeout=120)
        assert copy.returncode == 0, copy.stderr
        anon = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--no-creds", f"docker://{host}/team/app:v1"],
                              capture_output=True, text=True, timeout=60)
        assert anon.returncode != 0


def test_gc_removes_unlinked_blobs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with serve(root) as (proc, url), httpx.Client(base_url=url, timeout=10) as c:
        kept = push_blob(c, "r", b"still linked")
        gone = push_blob(c, "r", b"deleted")
        shared = push_blob(c, "r", b"shared")
        c.post("/v2/s/blobs/uploads/", params={"mount": shared, "from": "r"})
        for digest in (gone, shared):
            assert c.delete(f"/v2/r/blobs/{digest}").status_code == 202
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    code = "import sys; from berth.cli.main import main; sys.exit(main(sys.argv[1:]))"
    run = [sys.executable, "-c", code, "registry", "gc", "--root", str(root)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    dry = subprocess.run([*run, "--dry-run"], cwd=REPO, capture_output=True, text=True, timeout=60, env=env)
    assert dry.stdout == "would remove 1 blobs (7 bytes), kept 2\n"
    done = subprocess.run(run, cwd=REPO, capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout == "removed 1 blobs (7 bytes), kept 2\n"
    blobs = root / "content" / "blobs" / "sha256"
    assert sorted(p.name for p in blobs.iterdir()) == sorted(d.split(":")[1] for d in (kept, shared))
    with serve(root) as (_, url), httpx.Client(base_url=url, timeout=10) as c:
        assert c.get(f"/v2/r/blobs/{kept}").content == b"still linked"
        assert c.get(f"/v2/s/blobs/{shared}").content == b"shared"
