"""Reader of the json-file container log for `docker logs`: streams, since/until, tail, timestamps, follow."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from berth.util.timefmt import from_rfc3339

__all__ = ["STDERR", "STDOUT", "LogEntry", "format_timestamp", "parse_line", "read_logs", "tail_offset"]

STDOUT, STDERR = 1, 2
_STREAMS = {"stdout": STDOUT, "stderr": STDERR}
_BLOCK = 64 * 1024
_CHUNK = 1 << 20
POLL_INTERVAL = 0.05


@dataclass(frozen=True, slots=True)
class LogEntry:
    stream: int
    data: bytes
    time_ns: int


def parse_line(line: bytes) -> LogEntry | None:
    """One json-file line, or None when it is not a log record."""
    try:
        obj = json.loads(line)
        stream = _STREAMS[obj.get("stream", "stdout")]
        return LogEntry(stream, str(obj.get("log", "")).encode(), from_rfc3339(obj["time"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def format_timestamp(ns: int) -> str:
    """Docker's RFC3339NanoFixed in UTC: always nine fraction digits."""
    secs, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def tail_offset(f: BinaryIO, lines: int) -> int:
    """Offset where the last `lines` complete lines start, reading backwards in blocks (-1 = all)."""
    pos = f.seek(0, os.SEEK_END)
    if lines < 0:
        return 0
    seen = 0
    while pos > 0:
        size = min(_BLOCK, pos)
        pos -= size
        f.seek(pos)
        block = f.read(size)
        idx = len(block)
        while (idx := block.rfind(b"\n", 0, idx)) >= 0:
            seen += 1
            if seen == lines + 1:
                return pos + idx + 1
    return 0


def _open(path: str) -> BinaryIO | None:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def _read_lines(f: BinaryIO, offset: int, tail: int | None = None) -> tuple[list[bytes], int]:
    """Complete lines of `f` from `offset` (or from the last `tail` lines), at most ~1 MiB, and the next offset.

    A file shorter than `offset` was truncated: it is read from 0.
    """
    if tail is not None:
        offset = tail_offset(f, tail)
    elif os.fstat(f.fileno()).st_size < offset:
        offset = 0
    f.seek(offset)
    data = f.read(_CHUNK)
    cut = data.rfind(b"\n") + 1
    if cut == 0 and len(data) == _CHUNK:  # an over-long line: not a record the shim writes; skip it
        return [], offset + len(data)
    return data[:cut].split(b"\n")[:-1], offset + cut


class _Selector:
    def __init__(self, stdout: bool, stderr: bool, since: float, until: float, timestamps: bool) -> None:
        self.streams = {s for s, on in ((STDOUT, stdout), (STDERR, stderr)) if on}
        self.since_ns = int(since * 1e9) if since > 0 else 0
        self.until_ns = int(until * 1e9) if until > 0 else 0
        self.timestamps = timestamps
        self.done = False

    def pick(self, lines: list[bytes]) -> list[tuple[int, bytes]]:
        """The records to send; sets `done` at the first record past `until`."""
        out = []
        for line in lines:
            entry = parse_line(line)
            if entry is None or entry.time_ns < self.since_ns or entry.stream not in self.streams:
                continue
            if self.until_ns and entry.time_ns > self.until_ns:
                self.done = True
                break
            data = entry.data
            if self.timestamps:
                data = format_timestamp(entry.time_ns).encode() + b" " + data
            out.append((entry.stream, data))
        return out


def _open_all(path: str) -> list[BinaryIO]:
    """The log's files, oldest first: PATH.N ... PATH.1 (rotated away, complete) and PATH (being written).

    They are opened newest first: a rotation meanwhile shows up as one file seen twice (dropped), not as a gap.
    """
    files: list[BinaryIO] = []
    seen: set[int] = set()
    n = 0
    while True:
        f = _open(f"{path}.{n}" if n else path)
        if f is None and n:
            break
        n += 1
        if f is None:
            continue
        ino = os.fstat(f.fileno()).st_ino
        if ino in seen:
            f.close()
        else:
            seen.add(ino)
            files.append(f)
    files.reverse()
    return files


def _count_lines(f: BinaryIO) -> int:
    f.seek(0)
    return sum(block.count(b"\n") for block in iter(lambda: f.read(_CHUNK), b""))


def _tail_start(files: list[BinaryIO], tail: int) -> tuple[int, int]:
    """(index of the file, offset in it) where the last `tail` lines of all `files` start (-1: all)."""
    if tail < 0:
        return 0, 0
    need = tail
    for i in range(len(files) - 1, 0, -1):
        have = _count_lines(files[i])
        if have >= need:
            return i, tail_offset(files[i], need)
        need -= have
    return 0, tail_offset(files[0], need) if files else 0


def _rotated(f: BinaryIO, path: str) -> bool:
    """Whether the shim moved `f` aside (PATH is a new file now)."""
    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except FileNotFoundError:  # the container was removed: what is open stays readable
        return False


async def read_logs(
    path: str,
    *,
    stdout: bool = True,
    stderr: bool = True,
    since: float = 0.0,
    until: float = 0.0,
    tail: int = -1,
    timestamps: bool = False,
    follow: bool = False,
    is_running: Callable[[], bool] = lambda: False,
    poll_interval: float = POLL_INTERVAL,
) -> AsyncIterator[tuple[int, bytes]]:
    """(stream, bytes) records of the log, its rotated files first; since/until are unix seconds (0 = unset),
    tail -1 = all.

    With `follow`, waits for appended lines (following the file across rotations) until `is_running()` is false
    and no data is left. The file stays open meanwhile, as in docker: a follower still gets the last lines of a
    container removed under it.
    """
    sel = _Selector(stdout, stderr, since, until, timestamps)
    files = _open_all(path)
    opened = list(files)  # closed at the end, however it comes
    try:
        first, offset = _tail_start(files, tail)
        for i in range(first, len(files)):
            lines, offset = _read_lines(files[i], offset if i == first else 0)
            while lines:
                for item in sel.pick(lines):
                    yield item
                if sel.done:
                    return
                await asyncio.sleep(0)
                lines, offset = _read_lines(files[i], offset)
        if not follow:
            return
        f = files[-1] if files else None
        while True:
            running = is_running()
            if f is None and (f := _open(path)) is not None:
                opened.append(f)
                offset = 0
            if f is not None:
                lines, offset = _read_lines(f, offset)
                if lines:
                    for item in sel.pick(lines):
                        yield item
                    if sel.done:
                        return
                    continue
                if _rotated(f, path):  # read to its end just now: what follows is in the new file
                    f = None
                    continue
            if not running:
                return
            await asyncio.sleep(poll_interval)
    finally:
        for each in opened:
            each.close()
