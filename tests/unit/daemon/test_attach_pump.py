"""The attach pump frames output, forwards stdin, honours stdin-once and detach keys."""

from __future__ import annotations

import asyncio
import json
import struct

from berth.daemon.containers.attach import pump


class FakeStream:
    def __init__(self, frames: list[tuple[int, bytes]], hold: bool = False) -> None:
        self.frames = list(frames)
        self.stdin: list[bytes] = []
        self.stdin_closed = False
        self.closed = False
        self.hold = hold
        self.release = asyncio.Event()

    async def read_frame(self) -> tuple[int, bytes] | None:
        if not self.frames and self.hold:
            await self.release.wait()
        return self.frames.pop(0) if self.frames else None

    async def write_stdin(self, data: bytes) -> None:
        self.stdin.append(data)

    async def close_stdin(self) -> None:
        self.stdin_closed = True
        self.frames.append((1, b"".join(self.stdin)))
        self.frames.append((3, json.dumps({"exit_code": 0}).encode()))
        self.release.set()

    async def close(self) -> None:
        self.closed = True


class Reader:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    async def read(self, n: int = -1) -> bytes:
        await asyncio.sleep(0)
        return self.chunks.pop(0) if self.chunks else b""


class Writer:
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def test_output_is_multiplexed_without_tty() -> None:
    stream = FakeStream([(1, b"out"), (2, b"err"), (3, b'{"exit_code": 3}')])
    w = Writer()
    code = asyncio.run(pump(Reader([]), w, stream, tty=False, stdin=False, stdout=True, stderr=True,
                            stdin_once=False, detach_keys=b"\x10\x11"))
    assert code == 3
    assert bytes(w.data) == struct.pack(">BxxxI", 1, 3) + b"out" + struct.pack(">BxxxI", 2, 3) + b"err"
    assert w.closed
    assert stream.closed


def test_tty_output_is_raw_and_stderr_filtered_when_not_asked() -> None:
    stream = FakeStream([(1, b"hello"), (2, b"noise"), (3, b"{}")])
    w = Writer()
    asyncio.run(pump(Reader([]), w, stream, tty=True, stdin=False, stdout=True, stderr=False,
                     stdin_once=False, detach_keys=b""))
    assert bytes(w.data) == b"hello"


def test_stdin_once_closes_container_stdin_at_client_eof() -> None:
    stream = FakeStream([], hold=True)
    w = Writer()
    code = asyncio.run(pump(Reader([b"abc", b"def"]), w, stream, tty=False, stdin=True, stdout=True, stderr=True,
                            stdin_once=True, detach_keys=b"\x10\x11"))
    assert stream.stdin_closed
    assert code == 0
    assert bytes(w.data) == b"\x01\x00\x00\x00\x00\x00\x00\x06abcdef"


def test_tty_stdin_eof_ends_the_attach_but_not_the_container() -> None:
    stream = FakeStream([], hold=True)
    w = Writer()
    code = asyncio.run(pump(Reader([b"abc"]), w, stream, tty=True, stdin=True, stdout=True, stderr=True,
                            stdin_once=True, detach_keys=b"\x10\x11"))
    assert code is None
    assert stream.stdin == [b"abc"]
    assert not stream.stdin_closed


def test_detach_keys_end_the_attach_only() -> None:
    stream = FakeStream([], hold=True)
    w = Writer()
    code = asyncio.run(pump(Reader([b"ls\x10\x11more"]), w, stream, tty=True, stdin=True, stdout=True,
                            stderr=True, stdin_once=True, detach_keys=b"\x10\x11"))
    assert code is None
    assert stream.stdin == [b"ls"]
    assert not stream.stdin_closed
    assert w.closed
