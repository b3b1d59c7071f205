"""Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory.

`durable=False` skips the fsyncs: for files that are derived and regenerated (a bundle's config.json, a
container's hosts files) or that live on a tmpfs (the exec root's state), where a flush costs latency and
buys nothing. `SyncLater` flushes such a write (or only the directory of a record whose data was flushed
before its rename) later, on its own thread, off the caller's path.
"""

from __future__ import annotations

import os

__all__ = ["SyncLater", "write_atomic", "write_json_atomic"]


def write_atomic(path: str, data: bytes, mode: int = 0o644, durable: bool = True,
                 sync_dir: bool | None = None) -> None:
    """Replace `path` with `data` so that a reader sees the old or the new content, never a mix.

    `sync_dir=False` with `durable=True` flushes the data before the rename (after a crash the file holds the old
    or the new content, whole) but leaves the directory's flush, which makes the rename itself last, to the caller.
    """
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if durable if sync_dir is None else sync_dir:
        _fsync_path(directory, os.O_DIRECTORY)


def write_json_atomic(path: str, obj: object, mode: int = 0o644, durable: bool = True) -> None:
    """Write `obj` as JSON atomically."""
    import json  # imported here: the runtime and the shim use write_atomic on their start-up path

    write_atomic(path, json.dumps(obj, separators=(",", ":")).encode(), mode, durable)


def _fsync_path(path: str, flags: int = 0) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SyncLater:
    """Flushes files written with `durable=False` (and their directories) on a background thread.

    The write and the rename happen at once, so another process (or a restarted daemon) reads the new
    content; only the flush to the disk follows, a few milliseconds later, instead of stalling the caller.
    `close()` flushes what is pending and stops the thread.
    """

    def __init__(self) -> None:
        import threading

        self._cond = threading.Condition()
        self._pending: dict[str, None] = {}
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sync-later", daemon=True)
        self._thread.start()

    def add(self, path: str) -> None:
        """Flush `path` and its directory soon (now, when the syncer is closed)."""
        with self._cond:
            if not self._closed:
                self._pending[path] = None
                self._cond.notify()
                return
        _flush([path])

    @staticmethod
    def flush_now(paths: list[str]) -> None:
        """fsync `paths` and their directories on the caller's thread."""
        _flush(paths)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything added so far is flushed; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                batch, self._pending = list(self._pending), {}
                if not batch and self._closed:
                    return
                self._busy = True
            try:
                _flush(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


def _flush(paths: list[str]) -> None:
    """fsync each file, then each directory once; a file removed meanwhile needs nothing."""
    dirs: dict[str, None] = {}
    for path in paths:
        try:
            _fsync_path(path)
        except OSError:
            continue
        dirs[os.path.dirname(path) or "."] = None
    for directory in dirs:
        try:
            _fsync_path(directory, os.O_DIRECTORY)
        except OSError:
            pass
