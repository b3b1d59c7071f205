"""The real docker CLI through a hijacked exec: 101 upgrade, stdin to EOF (half-close), output after it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from berth.api.http.request import Request
from berth.api.http.responses import Hijacked, JSONResponse, Response
from berth.api.http.router import Route
from berth.api.streams import stdcopy_frame
from tests.e2e.api.test_cli_system import DOCKER
from tests.unit.api.harness import running_api

pytestmark = pytest.mark.e2e
MUX = "application/vnd.docker.multiplexed-stream"


def _fake_exec_routes() -> list[Route]:
    async def inspect(req: Request) -> Response:
        cid = "f" * 64
        return JSONResponse({"Id": cid, "Name": "/foo", "State": {"Running": True}, "Config": {"Tty": False}})

    async def exec_create(req: Request) -> Response:
        body = await req.json()
        assert body["Cmd"] == ["cat"]
        return JSONResponse({"Id": "e" * 64}, status=201)

    async def exec_start(req: Request) -> Response:
        body = await req.json()
        reader, writer = await req.hijack(MUX)
        while data := await reader.read(4096):
            writer.write(stdcopy_frame(1, data.upper()))
            await writer.drain()
        writer.write(stdcopy_frame(2, b"stdin closed; tty=%s\n" % str(body.get("Tty")).encode()))
        await writer.drain()
        return Hijacked()

    async def exec_inspect(req: Request) -> Response:
        return JSONResponse({"ID": req.path_params["id"], "Running": False, "ExitCode": 3, "Pid": 0})

    return [
        Route("GET", "/containers/{name}/json", inspect),
        Route("POST", "/containers/{name}/exec", exec_create),
        Route("POST", "/exec/{id}/start", exec_start),
        Route("GET", "/exec/{id}/json", exec_inspect),
    ]


@pytest.fixture(scope="module")
def exec_socket() -> Iterator[str]:
    with running_api([_fake_exec_routes()]) as (path, _):
        yield path


def test_docker_exec_i_streams_after_stdin_eof(exec_socket: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=f"unix://{exec_socket}", DOCKER_CONFIG=os.path.join(os.path.dirname(exec_socket), "c"))
    r = subprocess.run(
        [DOCKER, "exec", "-i", "foo", "cat"],
        input="abc def\nsecond line\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.stdout == "ABC DEF\nSECOND LINE\n"
    assert "stdin closed; tty=False" in r.stderr
    assert r.returncode == 3
