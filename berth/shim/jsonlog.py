"""Docker's json-file log writer (shim layer): one {"log","stream","time"} line per output line; with a
max-size, the file rotates as dockerd's does (PATH.1 ... PATH.N-1 keep the older entries, or, with max-file 1,
the file starts again empty)."""

from __future__ import annotations

import os
import time

from berth.util import minijson

__all__ = ["MAX_PARTIAL", "JsonLog", "rfc3339nano"]

# moby splits lines longer than this into several partial messages
MAX_PARTIAL = 16 * 1024


def rfc3339nano(ns: int) -> str:
    """Unix nanoseconds as Go's RFC3339Nano in UTC (as berth.util.timefmt, without importing datetime)."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{base}.{frac:09d}".rstrip("0").rstrip(".") + "Z"


class JsonLog:
    """Appends an entry per line of each stream; a partial line waits for its end (or `flush`)."""

    __slots__ = ("_fd", "_max_files", "_max_size", "_partial", "_path", "_size")

    def __init__(self, path: str, max_size: int = -1, max_files: int = 1) -> None:
        self._path, self._max_size, self._max_files = path, max_size, max_files
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size
        self._partial: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes, ns: int | None = None) -> None:
        """Log `data` from `stream` ("stdout" or "stderr")."""
        when = rfc3339nano(time.time_ns() if ns is None else ns)
        buf = self._partial.pop(stream, b"") + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        out = []
        for line in lines:
            line += b"\n"
            out += [_entry(line[i:i + MAX_PARTIAL], stream, when) for i in range(0, len(line), MAX_PARTIAL)]
        while len(rest) >= MAX_PARTIAL:
            out.append(_entry(rest[:MAX_PARTIAL], stream, when))
            rest = rest[MAX_PARTIAL:]
        if rest:
            self._partial[stream] = rest
        self._append(out)

    @property
    def holds_partial(self) -> bool:
        """A partial line waits for its end."""
        return bool(self._partial)

    def flush(self, ns: int | None = None) -> None:
        """Write the partial last lines as they are (at exit)."""
        when = rfc3339nano(time.time_ns() if ns is None else ns)
        out = [_entry(rest, stream, when) for stream, rest in self._partial.items()]
        self._partial.clear()
        self._append(out)

    def _append(self, entries: list[bytes]) -> None:
        if self._max_size < 0:
            self._write(b"".join(entries))
            return
        batch: list[bytes] = []
        for entry in entries:  # as dockerd: a file that has reached max-size rotates before the next entry
            if self._size >= self._max_size:
                self._write(b"".join(batch))
                batch.clear()
                self._rotate()
            batch.append(entry)
            self._size += len(entry)
        self._write(b"".join(batch))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:  # a full disk loses log lines, never the container
            os.write(2, f"json log write failed: {exc}\n".encode())

    def _rotate(self) -> None:
        """PATH.N-2 -> PATH.N-1, ..., PATH -> PATH.1, and a new empty PATH (only that with max-file 1)."""
        try:
            if self._max_files > 1:
                for i in range(self._max_files - 1, 1, -1):
                    _rename_if_there(f"{self._path}.{i - 1}", f"{self._path}.{i}")
                _rename_if_there(self._path, f"{self._path}.1")
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        except OSError as exc:  # the entries go on to the file as it is
            os.write(2, f"json log rotation failed: {exc}\n".encode())
            return
        os.close(self._fd)
        self._fd, self._size = fd, 0

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.close(self._fd)
            self._fd = -1


def _rename_if_there(src: str, dst: str) -> None:
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        pass


def _entry(raw: bytes, stream: str, when: str) -> bytes:
    text = raw.decode("utf-8", "replace")
    return minijson.dumps({"log": text, "stream": stream, "time": when}, ascii_only=False).encode() + b"\n"
