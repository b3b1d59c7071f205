"""The daemon's side of the zygote (daemon layer): start it, fork shims through it, stop it.

Protocol: berth.zygote.server. A request that could not be handed over, or that the zygote refused, raises
ZygoteUnavailable: the caller then launches the shim directly. Once handed over, the shim's report on the
pipes is the outcome. A zygote that does not acknowledge in time is killed and replaced, so that the pipes
come to EOF if it never forked: only an empty report after an unacknowledged request allows a direct launch.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import os
import signal
import socket

from berth.shim.protocol import short_socket_path

__all__ = ["Zygote", "ZygoteUnavailable", "read_to_eof"]

HANDOFF_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


class ZygoteUnavailable(Exception):
    """The zygote did not take the request (not started yet, dead, or broken)."""


class Zygote:
    """One zygote for the daemon, on `exec_root/zygote.sock`; `python` runs it with `env`."""

    def __init__(self, exec_root: str, python: str, env: dict[str, str]) -> None:
        self.sock_path = os.path.join(exec_root, "zygote.sock")
        self.pid_path = os.path.join(exec_root, "zygote.pid")
        self.log_path = os.path.join(exec_root, "zygote.log")
        self.python = python
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self._prime_w = -1  # our end of the zygote's poke pipe

    async def start(self) -> None:
        """Stop a zygote an earlier daemon left, then start a fresh one (it serves once it has loaded)."""
        stop_stale(self.pid_path)
        self._close_prime()
        prime_r, prime_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.python, "-S", "-m", "berth.zygote", "--socket", self.sock_path, "--pid-file",
                self.pid_path, "--prime-fd", str(prime_r), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=log, env=self.env, close_fds=True, pass_fds=(prime_r,),
                start_new_session=True,
            )
        except BaseException:
            os.close(prime_w)
            raise
        finally:
            os.close(log)
            os.close(prime_r)
        self._prime_w = prime_w

    def prime(self) -> None:
        """Poke the zygote: a container's process moves into its cgroups soon (berth.kernel.cgroupwarm)."""
        if self._prime_w >= 0:
            try:
                os.write(self._prime_w, b".")
            except OSError:  # full (pokes are waiting already) or the zygote is gone (then it is being replaced)
                pass

    def _close_prime(self) -> None:
        if self._prime_w >= 0:
            os.close(self._prime_w)
            self._prime_w = -1

    async def stop(self) -> None:
        """Stop our zygote (the shims it forked run on)."""
        proc, self.proc = self.proc, None
        self._close_prime()
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock_path)

    async def spawn(self, shim_args: list[str]) -> tuple[int, int, bool]:
        """Fork `python -m berth.shim SHIM_ARGS`: the read ends of its stdout and stderr, and whether the zygote
        acknowledged the fork (if not, empty pipes mean that no shim was started)."""
        serving = self.proc
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            acknowledged = await self._hand_over(shim_args, (out_w, err_w))
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        if not acknowledged and self.proc is serving:  # not replaced already by a concurrent request
            await self._replace()
        return out_r, err_r, acknowledged

    async def _replace(self) -> None:
        """Kill a zygote that took a request without answering (its copies of the pipes close), start another."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        stop_stale(self.pid_path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock_path)
        await self.start()

    async def _hand_over(self, shim_args: list[str], fds: tuple[int, int]) -> bool:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            arg, dirfd = short_socket_path(self.sock_path)
            try:
                await loop.sock_connect(sock, arg)
            finally:
                if dirfd is not None:
                    os.close(dirfd)
            payload = json.dumps({"argv": shim_args}).encode() + b"\n"
            sent = sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            if sent < len(payload):  # no empty send: the zygote may have answered and closed already (EPIPE)
                async with asyncio.timeout(HANDOFF_TIMEOUT):
                    await loop.sock_sendall(sock, payload[sent:])
        except (OSError, TimeoutError) as exc:
            sock.close()
            raise ZygoteUnavailable(str(exc) or repr(exc)) from None
        # From here on the zygote may have forked the shim: falling back to a direct launch could start a second
        # one. Only an explicit refusal allows it; otherwise the shim's own report on the pipes tells the outcome.
        try:
            async with asyncio.timeout(HANDOFF_TIMEOUT):
                reply = await _read_line(loop, sock)
        except (OSError, TimeoutError):
            return False
        finally:
            sock.close()
        try:
            result = json.loads(reply)
        except ValueError:
            return False
        if isinstance(result, dict) and result.get("ok") is False:
            raise ZygoteUnavailable(str(result.get("error")))
        return True


async def _read_line(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = await loop.sock_recv(sock, 4096)
        if not chunk:
            raise OSError("the zygote closed the connection")
        data += chunk
    return data


async def read_to_eof(fd: int) -> bytes:
    """All that arrives on pipe `fd` until EOF; closes `fd`."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            chunks.append(data)
        elif not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return b"".join(chunks)


def stop_stale(pid_path: str) -> None:
    """SIGKILL the zygote named in `pid_path` ("PID STARTTIME") if that very process still runs."""
    try:
        with open(pid_path) as f:
            pid_text, start = f.read().split()
        pid = int(pid_text)
        with open(f"/proc/{pid}/stat", "rb") as f:
            now = f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, ValueError):
        return
    if now == start:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
