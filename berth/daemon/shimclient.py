"""The daemon's asyncio client of shims (daemon layer): launch, reconnect, and speak shim.sock.

Protocol and frames: berth.shim.protocol (contracts.md section 2).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import sys
from typing import Any

import berth
from berth import errdefs
from berth.daemon.containers.logconfig import LogTarget
from berth.shim.protocol import (
    FRAME_STDIN,
    HEADER,
    MAX_FRAME,
    MAX_LINE,
    ProtocolError,
    decode_message,
    encode_frame,
    encode_message,
    short_socket_path,
)
from berth.zygote.client import Zygote, ZygoteUnavailable, read_to_eof

__all__ = [
    "LAUNCH_TIMEOUT", "open_connection", "python_env", "ShimClient", "ShimError", "ShimLauncher", "ShimStream",
]

LAUNCH_TIMEOUT = 120.0
_STDIN_CHUNK = 1 << 20
log = logging.getLogger(__name__)
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(berth.__file__)))
_KINDS: dict[str, type[errdefs.BerthError]] = {
    "not_found": errdefs.NotFound,
    "conflict": errdefs.Conflict,
    "invalid": errdefs.InvalidParameter,
}


def python_env() -> dict[str, str]:
    """The environment of the shim (and zygote) interpreter: ours, with this very package on its path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = _PACKAGE_PARENT
    return env


class ShimError(Exception):
    """A shim could not be launched (its message is the runtime's error, Docker style)."""


def _error(reply: dict[str, Any]) -> errdefs.BerthError:
    kind = _KINDS.get(str(reply.get("kind")), errdefs.System)
    return kind(str(reply.get("error") or "shim request failed"))


async def _connect(path: str) -> socket.socket:
    """A non-blocking socket connected to a shim socket, however long its path."""
    arg, dirfd = short_socket_path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, arg)
    except BaseException:
        sock.close()
        raise
    finally:
        if dirfd is not None:
            os.close(dirfd)
    return sock


async def open_connection(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream connection to a shim socket, however long its path."""
    return await asyncio.open_unix_connection(sock=await _connect(path), limit=MAX_LINE + 1)


class ShimStream:
    """An attach or exec stream: output frames from the shim, stdin frames to it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read_frame(self) -> tuple[int, bytes] | None:
        """The next (kind, payload); None at the end of the stream."""
        try:
            kind, size = HEADER.unpack(await self._reader.readexactly(HEADER.size))
            if size > MAX_FRAME:
                raise ProtocolError(f"frame of {size} bytes is too large")
            return kind, await self._reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def write_stdin(self, data: bytes) -> None:
        """Send `data` to the process's stdin (ignored when the stream has no stdin)."""
        for start in range(0, len(data), _STDIN_CHUNK):
            self._writer.write(encode_frame(FRAME_STDIN, data[start:start + _STDIN_CHUNK]))
        await self._writer.drain()

    async def close_stdin(self) -> None:
        """Stdin EOF: the shim closes the process's stdin (the daemon decides when, StdinOnce)."""
        self._writer.write(encode_frame(FRAME_STDIN, b""))
        await self._writer.drain()

    async def close(self) -> None:
        """Leave the stream; the process goes on."""
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class ShimClient:
    """One container's shim, reached at `sock_path`; one connection per request."""

    def __init__(self, sock_path: str) -> None:
        self.sock_path = sock_path

    async def _request(self, req: dict[str, Any]) -> tuple[dict[str, Any], ShimStream]:
        reader, writer = await open_connection(self.sock_path)
        stream = ShimStream(reader, writer)
        try:
            writer.write(encode_message(req))
            await writer.drain()
            line = await reader.readline()
            if not line.endswith(b"\n"):
                raise EOFError(f"shim closed the connection during {req.get('op')}")
            reply = decode_message(line)
        except BaseException:
            await stream.close()
            raise
        if not reply.get("ok"):
            await stream.close()
            raise _error(reply)
        return reply, stream

    async def _call(self, req: dict[str, Any]) -> dict[str, Any]:
        """A request whose whole answer is its reply line: on a bare socket, without a stream's machinery."""
        loop = asyncio.get_running_loop()
        with await _connect(self.sock_path) as sock:
            await loop.sock_sendall(sock, encode_message(req))
            data = b""
            while b"\n" not in data:
                if len(data) > MAX_LINE:
                    raise ProtocolError("shim reply line too long")
                chunk = await loop.sock_recv(sock, MAX_LINE + 1 - len(data))
                if not chunk:
                    raise EOFError(f"shim closed the connection during {req.get('op')}")
                data += chunk
        reply = decode_message(data[:data.index(b"\n") + 1])
        if not reply.get("ok"):
            raise _error(reply)
        return reply

    async def start(self) -> None:
        await self._call({"op": "start"})

    async def state(self) -> dict[str, Any]:
        """{"status": created|running|stopped, "pid", "exit_code", "started_at", "finished_at"}."""
        return await self._call({"op": "state"})

    async def pause(self) -> None:
        await self._call({"op": "pause"})

    async def resume(self) -> None:
        await self._call({"op": "resume"})

    async def update(self, resources: dict[str, Any]) -> None:
        """Apply new cgroup limits (OCI linux.resources) to the running container."""
        await self._call({"op": "update", "resources": resources})

    async def kill(self, signal: int, all: bool = False, exec_id: str | None = None) -> None:
        """Signal the container's init (`all`: every process in it), or only the exec'd process `exec_id`."""
        await self._call({"op": "kill", "signal": int(signal), "all": all, "exec_id": exec_id})

    async def wait(self) -> dict[str, Any]:
        """Returns once init has exited: {"exit_code", "finished_at"}."""
        return await self._call({"op": "wait"})

    async def resize(self, height: int, width: int, exec_id: str | None = None) -> None:
        await self._call({"op": "resize", "h": height, "w": width, "exec_id": exec_id})

    async def close_stdin(self, exec_id: str | None = None) -> None:
        await self._call({"op": "close_stdin", "exec_id": exec_id})

    async def attach(self, stdin: bool, stdout: bool, stderr: bool) -> ShimStream:
        _, stream = await self._request({"op": "attach", "stdin": stdin, "stdout": stdout, "stderr": stderr})
        return stream

    async def exec(self, exec_id: str, process: dict[str, Any], stdin: bool) -> tuple[int, ShimStream]:
        """Start an exec (its output comes only on the returned stream, which ends with its exit)."""
        req = {"op": "exec", "exec_id": exec_id, "process": process, "stdin": stdin}
        reply, stream = await self._request(req)
        return int(reply["pid"]), stream

    async def exec_prepare(self, exec_id: str, process: dict[str, Any], stdin: bool) -> bool:
        """Have the exec's process made ready (forked, set up, held before its exec) for a start that brings the
        same process; True when the shim did (it does only with Berth's runtime)."""
        req = {"op": "exec_prepare", "exec_id": exec_id, "process": process, "stdin": stdin}
        return bool((await self._call(req)).get("prepared"))

    async def exec_state(self, exec_id: str) -> dict[str, Any]:
        """{"running", "pid", "exit_code"}."""
        return await self._call({"op": "exec_state", "exec_id": exec_id})

    async def delete(self) -> None:
        """`runtime delete --force`; the shim then exits and removes its directory."""
        await self._call({"op": "delete"})


class ShimLauncher:
    """Starts shims under `shims_root/<id>/` and reconnects to the ones that survived a daemon restart.

    With a `zygote` the shim is forked from it (no new interpreter); when the zygote cannot take the
    request the shim is started directly, as `python -S -m berth.shim`.
    """

    def __init__(self, shims_root: str, runtime_argv: list[str], python: str = sys.executable,
                 runtime_root: str | None = None, zygote: Zygote | None = None, idle_after: float = 0.0) -> None:
        self.shims_root = shims_root
        self.idle_after = idle_after  # for shims forked by the zygote, whose keeper holds an idle container
        self.runtime_argv = list(runtime_argv)
        self.python = python
        self.runtime_root = runtime_root
        self.zygote = zygote

    def shim_dir(self, cid: str) -> str:
        return os.path.join(self.shims_root, cid)

    def _shim_args(self, cid: str, bundle: str, log_to: LogTarget, stdin: bool, tty: bool) -> list[str]:
        args = ["--id", cid, "--bundle", bundle, "--dir", self.shim_dir(cid), "--runtime",
                json.dumps(self.runtime_argv), "--log-path", log_to.path]
        if log_to.max_size > 0:
            args += ["--log-max-size", str(log_to.max_size), "--log-max-files", str(log_to.max_files)]
        if self.runtime_root:
            args += ["--runtime-root", self.runtime_root]
        if self.idle_after > 0:
            args += ["--idle-after", repr(float(self.idle_after))]
        return args + (["--stdin"] if stdin else []) + (["--tty"] if tty else [])

    def _argv(self, cid: str, bundle: str, log_to: LogTarget, stdin: bool, tty: bool) -> list[str]:
        # -S: no site import (faster, smaller shim); PYTHONPATH points at this very package instead
        return [self.python, "-S", "-m", "berth.shim", *self._shim_args(cid, bundle, log_to, stdin, tty)]

    async def launch(
        self, cid: str, bundle: str, log_to: LogTarget, stdin: bool, tty: bool
    ) -> tuple[ShimClient, int]:
        """Start the shim (which runs `runtime create`); returns its client and init's pid."""
        os.makedirs(self.shim_dir(cid), mode=0o711, exist_ok=True)
        try:
            async with asyncio.timeout(LAUNCH_TIMEOUT):
                out, err = await self._run_shim(cid, bundle, log_to, stdin, tty)
        except TimeoutError:
            raise ShimError(f"shim for {cid} did not report within {LAUNCH_TIMEOUT:.0f}s") from None
        line = out.split(b"\n", 1)[0]
        try:
            result = decode_message(line)
        except ProtocolError:
            text = (err or out).decode("utf-8", "replace").strip()
            raise ShimError(f"failed to start shim: {text or 'no output'}") from None
        if not result.get("ok"):
            raise ShimError(f"OCI runtime create failed: {result.get('error')}")
        return ShimClient(os.path.join(self.shim_dir(cid), "shim.sock")), int(str(result["pid"]))

    async def _run_shim(self, cid: str, bundle: str, log_to: LogTarget, stdin: bool, tty: bool) -> tuple[bytes, bytes]:
        """The shim's stdout and stderr, up to EOF (its result line is on stdout)."""
        if self.zygote is not None:
            try:
                out_fd, err_fd, acknowledged = await self.zygote.spawn(
                    self._shim_args(cid, bundle, log_to, stdin, tty))
            except ZygoteUnavailable as exc:
                log.debug("zygote unavailable (%s): launching the shim directly", exc)
            else:
                out, err = await asyncio.gather(read_to_eof(out_fd), read_to_eof(err_fd))
                if out or err or acknowledged:
                    return out, err
                log.warning("the zygote was replaced before it started the shim of %s: launching it directly", cid)
        proc = await asyncio.create_subprocess_exec(
            *self._argv(cid, bundle, log_to, stdin, tty), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=python_env(), close_fds=True,
        )
        return await proc.communicate()

    async def connect(self, cid: str) -> ShimClient | None:
        """The client of a shim that still serves, or None."""
        client = ShimClient(os.path.join(self.shim_dir(cid), "shim.sock"))
        try:
            await client.state()
        except (OSError, EOFError, ProtocolError, errdefs.BerthError):
            return None
        return client

    def exit_record(self, cid: str) -> dict[str, Any] | None:
        """exit.json of a shim that is gone: {"exit_code", "finished_at", "started_at"}."""
        try:
            with open(os.path.join(self.shim_dir(cid), "exit.json"), "rb") as f:
                record = json.load(f)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    async def force_delete(self, cid: str) -> None:
        """`runtime delete --force` for a container whose shim is gone: the runtime kills what is left of the
        container's processes and removes its state and cgroups (what the shim does on its way out)."""
        argv = [*self.runtime_argv, *(["--root", self.runtime_root] if self.runtime_root else []),
                "delete", "--force", cid]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, env=python_env(), close_fds=True,
            )
            async with asyncio.timeout(LAUNCH_TIMEOUT):
                _, err = await proc.communicate()
        except (OSError, TimeoutError) as exc:
            log.warning("runtime delete of %s failed: %s", cid[:12], exc)
            return
        text = err.decode("utf-8", "replace").strip()
        if proc.returncode and "does not exist" not in text:
            log.warning("runtime delete of %s failed: %s", cid[:12], text)

    def cleanup(self, cid: str) -> None:
        """Remove what is left of a shim's directory."""
        shutil.rmtree(self.shim_dir(cid), ignore_errors=True)
