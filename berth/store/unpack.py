"""Layer unpack helper (stores layer, own process): `python -m berth.store.unpack DIR [IDMAP]` chroots into DIR
and extracts the tar on stdin there, converting image-spec whiteouts for overlayfs (and, with an IdMap text
from berth.util.idmap, shifting owners to the host ids of a remapped daemon).

    snapshotter (daemon thread)              helper (fresh interpreter, root)
      spawn `-m berth.store.unpack DIR` ---> chroot(DIR), chdir("/")
      tar bytes on stdin               ---> extract member by member (paths resolve inside DIR only)
      reads stdout                     <--- {"size": N} on success, exit 0
      reads stderr                     <--- one-line error, exit 1

Stdlib only, no tarfile extraction filters (absent on Debian's 3.11.2): the chroot contains symlinks and `..`,
and our own checks reject `..` escapes in member names and hardlink targets.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from berth.store.tarread import BLK, CHR, DIR, FIFO, LNK, REG, SYM, Member, TarFormatError, TarReader
from berth.util.idmap import IdMap, UnmappableId

__all__ = ["LayerError", "clean_name", "extract", "main"]

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
WORKERS = 2
PROBE_FILES = 64  # small files written inline first, to time file creation here
SLOW_FILE = 150e-6  # seconds per small file above which the worker threads take over
IN_FLIGHT = 64
SMALL_FILE = 1 << 20


class LayerError(Exception):
    """The layer tar is invalid or hostile."""


def clean_name(name: str) -> str:
    """A member name as a path relative to the layer root; `..` may not climb above it (moby breakout)."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise LayerError(f"invalid tar member {name!r}: path is outside of the layer root")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


class _Writers:
    """Small new files, written inline while creating a file is cheap, else by worker threads (on a slow
    filesystem creating inodes is kernel time, outside the GIL, and overlaps well); `barrier` waits for all
    of them before anything that could touch their names."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ThreadPoolExecutor | None = None
        self.inline = 0  # files written inline so far, and the time they took
        self.inline_time = 0.0
        self.slots = threading.BoundedSemaphore(IN_FLIGHT)
        self.pending: dict[str, Future[None]] = {}

    def submit(self, rel: str, job: Callable[[], None]) -> None:
        if self.pool is None:
            if self.inline < PROBE_FILES:
                t0 = time.perf_counter()
                job()
                self.inline_time += time.perf_counter() - t0
                self.inline += 1
                if self.inline == PROBE_FILES and self.inline_time / PROBE_FILES > SLOW_FILE and self.workers:
                    self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="unpack")
                return
            job()  # creating files is fast here: no threads
            return
        self.slots.acquire()
        try:
            fut = self.pool.submit(job)
        except BaseException:
            self.slots.release()
            raise
        fut.add_done_callback(lambda _f: self.slots.release())
        self.pending[rel] = fut
        if len(self.pending) >= IN_FLIGHT * 4:
            self._reap()

    def _reap(self) -> None:
        for rel, fut in list(self.pending.items()):
            if fut.done():
                del self.pending[rel]
                fut.result()

    def barrier(self) -> None:
        for fut in self.pending.values():
            fut.result()
        self.pending.clear()

    def close(self) -> None:
        for fut in self.pending.values():
            fut.cancel()
        if self.pool is not None:
            self.pool.shutdown(wait=True)


class _Extractor:
    """Creates members under `root` with as few system calls as the member needs."""

    def __init__(self, root: str, idmap: IdMap | None) -> None:
        self.root = root
        self.idmap = idmap
        self.me = (os.geteuid(), os.getegid())
        umask = os.umask(0)
        os.umask(umask)
        self.umask = umask
        self.plain_dirs: set[str] = {""}  # dirs made here without setgid: new files in them are owned by us
        self.dirs: list[tuple[str, float]] = []
        self.size = 0
        self.seen: set[str] = set()  # names created so far (a new name cannot collide with an earlier member)
        self.writer = _Writers(WORKERS)

    def owner(self, m: Member) -> tuple[int, int]:
        if self.idmap is None:
            return m.uid, m.gid
        try:
            return self.idmap.host_uid(m.uid), self.idmap.host_gid(m.gid)
        except UnmappableId as exc:
            raise LayerError(f"{exc} (file {m.name!r})") from None

    def needs_chown(self, rel_parent: str, owner: tuple[int, int]) -> bool:
        return owner != self.me or rel_parent not in self.plain_dirs

    def needs_chmod(self, mode: int) -> bool:
        return bool(mode & 0o7000) or bool(mode & self.umask)

    def remove(self, path: str, rel: str) -> None:
        self.writer.barrier()
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
            prefix = rel + "/"
            self.plain_dirs = {d for d in self.plain_dirs if d != rel and not d.startswith(prefix)}
        else:
            os.unlink(path)

    def ensure_parent(self, rel_parent: str) -> None:
        path = os.path.join(self.root, rel_parent)
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o755, exist_ok=True)

    def member(self, m: Member, reader: TarReader) -> None:
        rel = clean_name(m.name)
        parent, base = os.path.split(rel)
        if rel in self.writer.pending or (m.type == LNK and clean_name(m.linkname) in self.writer.pending):
            self.writer.barrier()
        if base.startswith(WHITEOUT_PREFIX):
            self.writer.barrier()
            self.whiteout(parent, base, m)
            return
        if not rel:
            if m.type != DIR:
                raise LayerError(f"invalid tar member {m.name!r}: the layer root must be a directory")
            self.meta_path(self.root, m, parent)
            self.dirs.append((self.root, m.mtime))
            return
        path = os.path.join(self.root, rel)
        if m.type == REG:
            self.regular(path, rel, parent, m, reader)
            self.seen.add(rel)
        elif m.type == DIR:
            self.directory(path, rel, parent, m)
        else:
            self.retry(lambda: self.create_other(path, m), path, rel, parent)
            if m.type != LNK:  # a hardlink shares its target's inode, which already carries the metadata
                self.meta_path(path, m, parent)
        self.seen.add(rel)

    def retry(self, make: Callable[[], None], path: str, rel: str, parent: str) -> None:
        """Create; when the name is taken, replace what is there; when the parent is missing, make it."""
        for _ in range(3):
            try:
                make()
                return
            except FileExistsError:
                self.remove(path, rel)
            except FileNotFoundError:
                if os.path.isdir(os.path.join(self.root, parent)):
                    raise
                self.ensure_parent(parent)
        make()

    def regular(self, path: str, rel: str, parent: str, m: Member, reader: TarReader) -> None:
        if m.size <= SMALL_FILE and rel not in self.seen:
            data = reader.read_data()
            owner = self.owner(m)
            chown, chmod = self.needs_chown(parent, owner), self.needs_chmod(m.mode)
            self.writer.submit(rel, lambda: self.small_file(path, parent, m, data, owner, chown, chmod))
            self.seen.add(rel)
            self.size += m.size
            return
        fds: list[int] = []
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        self.retry(lambda: fds.append(os.open(path, flags, m.mode & 0o777)), path, rel, parent)
        fd = fds[0]
        try:
            reader.write_to(fd)
            owner = self.owner(m)
            self.finish_file(fd, m, owner, self.needs_chown(parent, owner), self.needs_chmod(m.mode))
        finally:
            os.close(fd)
        self.size += m.size

    def small_file(self, path: str, parent: str, m: Member, data: bytes, owner: tuple[int, int], chown: bool,
                   chmod: bool) -> None:
        """A worker thread's part: a new file no earlier member named (its parent may be missing)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, m.mode & 0o777)
        except FileNotFoundError:
            os.makedirs(os.path.join(self.root, parent), mode=0o755, exist_ok=True)
            fd = os.open(path, flags, m.mode & 0o777)
        except FileExistsError:  # the name reached through a symlinked parent, under another spelling
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            fd = os.open(path, flags, m.mode & 0o777)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            self.finish_file(fd, m, owner, chown, chmod)
        finally:
            os.close(fd)

    def finish_file(self, fd: int, m: Member, owner: tuple[int, int], chown: bool, chmod: bool) -> None:
        """A written file's owner, mode, xattrs and mtime, through its fd."""
        if chown:
            os.fchown(fd, *owner)
        if chmod:
            os.fchmod(fd, m.mode & 0o7777)
        self.set_xattrs(fd, m)
        ns = int(m.mtime * 1e9)
        os.utime(fd, ns=(ns, ns))

    def directory(self, path: str, rel: str, parent: str, m: Member) -> None:
        def make() -> None:
            try:
                os.mkdir(path, m.mode & 0o777)
            except FileExistsError:
                if not os.path.isdir(path) or os.path.islink(path):
                    raise
                self.meta_path(path, m, parent, force=True)
                return
            self.meta_path(path, m, parent)

        self.retry(make, path, rel, parent)
        if not m.mode & 0o2000:
            self.plain_dirs.add(rel)
        else:
            self.plain_dirs.discard(rel)
        self.dirs.append((path, m.mtime))

    def create_other(self, path: str, m: Member) -> None:
        if m.type == SYM:
            os.symlink(m.linkname, path)
        elif m.type == LNK:
            target = os.path.join(self.root, clean_name(m.linkname))
            if not os.path.lexists(target):
                raise LayerError(f"invalid hardlink {m.name!r} -> {m.linkname!r}: target not in layer")
            os.link(target, path, follow_symlinks=False)
        elif m.type in (CHR, BLK):
            kind = stat.S_IFCHR if m.type == CHR else stat.S_IFBLK
            os.mknod(path, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor))
        elif m.type == FIFO:
            os.mkfifo(path, m.mode & 0o7777)
        else:  # pragma: no cover (the reader yields no other types)
            raise LayerError(f"unsupported tar member type {m.type!r} for {m.name!r}")

    def meta_path(self, path: str, m: Member, parent: str, force: bool = False) -> None:
        owner = self.owner(m)
        if force or self.needs_chown(parent, owner):
            os.lchown(path, *owner)
        if m.type != SYM and (force or self.needs_chmod(m.mode)):
            os.chmod(path, m.mode & 0o7777)
        self.set_xattrs(path, m)
        if m.type != DIR:
            ns = int(m.mtime * 1e9)
            os.utime(path, ns=(ns, ns), follow_symlinks=False)

    @staticmethod
    def set_xattrs(target: int | str, m: Member) -> None:
        for key, value in m.xattrs.items():
            try:
                if isinstance(target, int):
                    os.setxattr(target, key, value)
                else:
                    os.setxattr(target, key, value, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise

    def whiteout(self, parent: str, base: str, m: Member) -> None:
        # image-spec layer.md: opaque whiteout .wh..wh..opq, file whiteout .wh.<name>; overlayfs equivalents
        target_dir = os.path.join(self.root, parent) if parent else self.root
        if parent:
            os.makedirs(target_dir, mode=0o755, exist_ok=True)
        if base == OPAQUE:
            os.setxattr(target_dir, OPAQUE_XATTR, b"y")
            return
        name = base[len(WHITEOUT_PREFIX):]
        if name in ("", ".", ".."):
            raise LayerError(f"invalid whiteout {base!r} in {parent or '/'}")
        victim = os.path.join(target_dir, name)
        self.remove(victim, os.path.join(parent, name))
        os.mknod(victim, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        os.lchown(victim, *self.owner(m))


def extract(stream: BinaryIO, root: str = "/", idmap: IdMap | None = None) -> int:
    """Extract a layer tar from `stream` under `root`; returns the bytes of regular files written."""
    ex = _Extractor(root, idmap)
    reader = TarReader(stream)
    try:
        for member in reader:
            ex.member(member, reader)
        ex.writer.barrier()
    finally:
        ex.writer.close()
    for path, mtime in reversed(ex.dirs):
        ns = int(mtime * 1e9)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)
    reader.drain()
    return ex.size


class _Stdin:
    """fd 0 read without Python's buffering (a pipe from the snapshotter)."""

    def read(self, n: int = -1, /) -> bytes:
        return os.read(0, n if n > 0 else 1 << 20)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        sys.stderr.write("usage: python -m berth.store.unpack DIR [IDMAP] < layer.tar\n")
        return 2
    try:
        fcntl.fcntl(0, fcntl.F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass
    try:
        idmap = IdMap.decode(args[1]) if len(args) == 2 else None
        os.chroot(args[0])
        os.chdir("/")
        os.umask(0)
        size = extract(_Stdin(), "/", idmap)  # type: ignore[arg-type]
    except (LayerError, TarFormatError, OSError, EOFError, ValueError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    sys.stdout.write(json.dumps({"size": size}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
