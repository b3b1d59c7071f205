"""The json-file log reader behind `docker logs`."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from berth.daemon.containers.logs import STDERR, STDOUT, format_timestamp, parse_line, read_logs, tail_offset

BASE = 1_700_000_000


def record(text: str, stream: str = "stdout", sec: int = 0, frac: str = "123456789") -> bytes:
    ts = f"2023-11-14T22:13:{20 + sec:02d}.{frac}Z"
    return json.dumps({"log": text, "stream": stream, "time": ts}).encode() + b"\n"


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def collect(path: Path, **kw: Any) -> list[tuple[int, bytes]]:
    async def run() -> list[tuple[int, bytes]]:
        return [item async for item in read_logs(str(path), **kw)]

    return asyncio.run(run())


def sample(tmp_path: Path) -> Path:
    p = tmp_path / "c-json.log"
    p.write_bytes(record("one\n", sec=0) + record("err\n", "stderr", sec=1) + record("two\n", sec=2)
                  + b"not json\n" + record("three\n", sec=3))
    return p


def test_parse_line() -> None:
    e = parse_line(record("hi\n", "stderr"))
    assert e is not None
    assert (e.stream, e.data) == (STDERR, b"hi\n")
    assert e.time_ns == BASE * 10**9 + 123456789
    assert parse_line(b"{}") is None
    assert parse_line(b"garbage") is None


def test_timestamps_are_fixed_width() -> None:
    assert format_timestamp(BASE * 10**9 + 500_000_000) == "2023-11-14T22:13:20.500000000Z"
    assert format_timestamp(BASE * 10**9) == "2023-11-14T22:13:20.000000000Z"


def test_all_streams_in_order(tmp_path: Path) -> None:
    assert collect(sample(tmp_path)) == [
        (STDOUT, b"one\n"), (STDERR, b"err\n"), (STDOUT, b"two\n"), (STDOUT, b"three\n"),
    ]


def test_select_stream(tmp_path: Path) -> None:
    p = sample(tmp_path)
    assert collect(p, stdout=False) == [(STDERR, b"err\n")]
    assert [d for _, d in collect(p, stderr=False)] == [b"one\n", b"two\n", b"three\n"]


def test_since_until(tmp_path: Path) -> None:
    p = sample(tmp_path)
    assert [d for _, d in collect(p, since=BASE + 1.5)] == [b"two\n", b"three\n"]
    assert [d for _, d in collect(p, until=BASE + 1.5)] == [b"one\n", b"err\n"]
    assert [d for _, d in collect(p, since=BASE + 1, until=BASE + 2.2)] == [b"err\n", b"two\n"]


def test_tail(tmp_path: Path) -> None:
    p = sample(tmp_path)
    assert [d for _, d in collect(p, tail=2)] == [b"three\n"]  # the garbage line counts, as in docker
    assert [d for _, d in collect(p, tail=3)] == [b"two\n", b"three\n"]
    assert collect(p, tail=0) == []
    assert len(collect(p, tail=100)) == 4


def test_timestamps(tmp_path: Path) -> None:
    p = sample(tmp_path)
    assert collect(p, tail=1, timestamps=True) == [(STDOUT, b"2023-11-14T22:13:23.123456789Z three\n")]


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert collect(tmp_path / "nope.log") == []
    assert collect(tmp_path / "nope.log", follow=True) == []


def test_partial_last_line_is_not_sent(tmp_path: Path) -> None:
    p = tmp_path / "l"
    p.write_bytes(record("a\n") + record("b\n")[:20])
    assert [d for _, d in collect(p)] == [b"a\n"]
    assert [d for _, d in collect(p, tail=1)] == [b"a\n"]


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        out = super().read(size)
        self.bytes_read += len(out)
        return out


def test_tail_reads_from_the_end_only() -> None:
    data = b"".join(record(f"line {i}\n") for i in range(50_000))
    f = CountingReader(data)
    offset = tail_offset(f, 3)
    assert data[offset:].count(b"\n") == 3
    assert f.bytes_read < len(data) // 10


def test_tail_offset_across_blocks() -> None:
    lines = [b"x" * 70_000 + b"\n", b"y" * 10 + b"\n", b"z" * 100_000 + b"\n"]
    data = b"".join(lines)
    for n in range(5):
        off = tail_offset(io.BytesIO(data), n)
        assert data[off:] == b"".join(lines[len(lines) - min(n, 3):])
    assert tail_offset(io.BytesIO(data), -1) == 0


State = dict[str, bool]


def follow_beside(path: Path, scenario: Callable[[State], Coroutine[Any, Any, None]], poll_interval: float = 0.005,
                  **kw: Any) -> list[tuple[int, bytes]]:
    """Follow the log at `path` while `scenario(state)` runs beside it; it ends the container with
    state["running"] = False."""
    state = {"running": True}

    async def run() -> list[tuple[int, bytes]]:
        task = asyncio.create_task(scenario(state))
        out = [item async for item in read_logs(str(path), follow=True, is_running=lambda: state["running"],
                                                poll_interval=poll_interval, **kw)]
        await task
        return out

    return asyncio.run(run())


def test_follow_sees_appended_lines_then_stops(tmp_path: Path) -> None:
    p = tmp_path / "f.log"
    p.write_bytes(record("first\n"))

    async def writer(state: State) -> None:
        await asyncio.sleep(0.02)
        half = record("second\n", sec=1)
        append(p, half[:15])
        await asyncio.sleep(0.03)
        append(p, half[15:] + record("third\n", "stderr", sec=2))
        await asyncio.sleep(0.03)
        state["running"] = False

    assert follow_beside(p, writer) == [(STDOUT, b"first\n"), (STDOUT, b"second\n"), (STDERR, b"third\n")]


def test_follow_with_tail_zero_only_new_lines(tmp_path: Path) -> None:
    p = tmp_path / "f.log"
    p.write_bytes(record("old\n"))

    async def writer(state: State) -> None:
        await asyncio.sleep(0.02)
        append(p, record("new\n", sec=5))
        await asyncio.sleep(0.03)
        state["running"] = False

    assert follow_beside(p, writer, tail=0) == [(STDOUT, b"new\n")]


def test_follow_after_truncation(tmp_path: Path) -> None:
    p = tmp_path / "f.log"
    p.write_bytes(record("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n") * 3)

    async def writer(state: State) -> None:
        await asyncio.sleep(0.02)
        p.write_bytes(record("fresh\n"))
        await asyncio.sleep(0.03)
        state["running"] = False

    assert follow_beside(p, writer)[-1] == (STDOUT, b"fresh\n")


def test_follow_stops_at_until(tmp_path: Path) -> None:
    p = tmp_path / "f.log"
    p.write_bytes(record("a\n", sec=0) + record("b\n", sec=9))
    out = collect(p, follow=True, until=BASE + 1, is_running=lambda: True)
    assert out == [(STDOUT, b"a\n")]


def test_follow_keeps_reading_a_log_removed_with_its_container(tmp_path: Path) -> None:
    # the SDK's containers.run(remove=True): logs are followed, the container exits and is removed, and only
    # then is the stream read; the removal renames the container's directory away under the follower
    cdir = tmp_path / "c1"
    cdir.mkdir()
    p = cdir / "c1-json.log"
    p.write_bytes(b"")

    async def exit_and_remove(state: State) -> None:
        await asyncio.sleep(0.02)
        append(p, record("last words\n"))
        state["running"] = False
        cdir.rename(tmp_path / "trash-c1")

    assert follow_beside(p, exit_and_remove, poll_interval=0.2) == [(STDOUT, b"last words\n")]


def test_follow_waits_for_a_log_that_appears_later(tmp_path: Path) -> None:
    p = tmp_path / "late-json.log"

    async def start_writing(state: State) -> None:
        await asyncio.sleep(0.02)
        p.write_bytes(record("hello\n"))
        await asyncio.sleep(0.03)
        state["running"] = False

    assert follow_beside(p, start_writing) == [(STDOUT, b"hello\n")]


def rotated_log(tmp_path: Path) -> Path:
    """PATH.2, PATH.1 and PATH as a json-file log rotated twice holds them: lines 0-2, 3-5, 6-7."""
    p = tmp_path / "r-json.log"
    for suffix, lines in ((".2", range(3)), (".1", range(3, 6)), ("", range(6, 8))):
        (tmp_path / f"r-json.log{suffix}").write_bytes(b"".join(record(f"{i}\n", sec=i) for i in lines))
    return p


def test_rotated_files_are_read_oldest_first(tmp_path: Path) -> None:
    p = rotated_log(tmp_path)
    assert [d for _, d in collect(p)] == [f"{i}\n".encode() for i in range(8)]
    assert [d for _, d in collect(p, since=BASE + 4)] == [f"{i}\n".encode() for i in range(4, 8)]


def test_tail_reaches_into_rotated_files(tmp_path: Path) -> None:
    p = rotated_log(tmp_path)
    for n in (0, 1, 2, 3, 5, 8, 100):
        assert [d for _, d in collect(p, tail=n)] == [f"{i}\n".encode() for i in range(max(0, 8 - n), 8)]


def test_follow_goes_on_in_the_file_that_replaces_a_rotated_one(tmp_path: Path) -> None:
    p = tmp_path / "f.log"
    p.write_bytes(record("before\n"))

    async def rotating_writer(state: State) -> None:
        await asyncio.sleep(0.02)
        append(p, record("last of the old file\n", sec=1))
        p.rename(tmp_path / "f.log.1")  # what the shim does at max-size
        p.write_bytes(record("first of the new file\n", sec=2))
        await asyncio.sleep(0.03)
        append(p, record("second of the new file\n", sec=3))
        await asyncio.sleep(0.03)
        state["running"] = False

    assert [d for _, d in follow_beside(p, rotating_writer)] == [
        b"before\n", b"last of the old file\n", b"first of the new file\n", b"second of the new file\n"]
