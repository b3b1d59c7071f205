"""Overlay snapshotter (stores layer): layers unpacked once into snapshots/<n>/fs, keyed by chain id, with
moby-style short links snapshots/l/<short> -> ../<n>/fs for the mount options; containers get upper/work.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from berth import errdefs
from berth.kernel.fsflags import FS_TOPDIR_FL, set_flag
from berth.oci import digest as dg
from berth.store.compression import Readable
from berth.store.metadata import MetadataStore, SnapshotRecord
from berth.util.du import tree_usage
from berth.util.idmap import IdMap
from berth.util.timefmt import now_ns

__all__ = ["AppliedLayer", "Detached", "Snapshotter"]

CHUNK = 1 << 20
PIPE_SIZE = 1 << 20
PAGE = 4096
_BERTH_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
_SHORT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class AppliedLayer(NamedTuple):
    diff_id: str
    chain_id: str
    size: int
    new: bool  # False when an identical layer was already unpacked (the new copy was discarded)


class Detached(NamedTuple):
    tmp: str  # ingest-<uuid>, holding fs/
    diff_id: str
    size: int


def _short() -> str:
    return "".join(secrets.choice(_SHORT_ALPHABET) for _ in range(10))


def _mark_top_of_hierarchies(root: str) -> None:
    """chattr +T on the snapshots directory: ext4 then places each new snapshot in a block group of its own
    choosing rather than next to its siblings. Without it a layer unpacked right after an rmi lands in the groups
    the removed layer just freed, where ext4 without a journal skips every inode freed in the last minute one by
    one on each file it creates: that made unpacking an 80 MB Debian layer 3-8 times slower. Other filesystems
    have no such flag; nothing changes there."""
    try:
        set_flag(root, FS_TOPDIR_FL)
    except OSError:
        pass


class Snapshotter:
    """Overlay snapshots under `root` (= <data-root>/snapshots); records live in the metadata store."""

    def __init__(self, root: str, meta: MetadataStore, python: str = sys.executable,
                 idmap: IdMap | None = None) -> None:
        self.root = root
        self.idmap = idmap  # a remapped daemon's: layers are unpacked owned by the mapped host ids
        self.links = os.path.join(root, "l")
        self.meta = meta
        self.python = python
        self.index_off = os.path.exists("/sys/module/overlay/parameters/index")
        os.makedirs(self.links, mode=0o700, exist_ok=True)
        _mark_top_of_hierarchies(root)
        self._clean_orphans()

    # -- paths ----------------------------------------------------------------------------------
    def _dir(self, rec: SnapshotRecord) -> str:
        return os.path.join(self.root, str(rec.n))

    def fs_dir(self, key: str) -> str:
        return os.path.join(self._dir(self._get(key)), "fs")

    def _get(self, key: str) -> SnapshotRecord:
        rec = self.meta.get_snapshot(key)
        if rec is None:
            raise errdefs.NotFound(f"snapshot {key} does not exist")
        return rec

    def exists(self, key: str) -> bool:
        return self.meta.get_snapshot(key) is not None

    # -- layers ---------------------------------------------------------------------------------
    def apply_layer(
        self, parent_chain: str | None, stream: Readable, tee: Callable[[bytes], None] | None = None,
        verify: Callable[[str], None] | None = None,
    ) -> AppliedLayer:
        """Unpack an uncompressed layer tar on top of `parent_chain` (chroot'ed helper process).

        `verify(diff_id)` runs once the whole tar is unpacked and before anything is committed: when it
        raises, the unpacked files are dropped and nothing becomes visible.
        """
        if parent_chain is not None:
            self._get(parent_chain)
        tmp = os.path.join(self.root, f"ingest-{uuid.uuid4().hex}")
        try:
            os.makedirs(os.path.join(tmp, "fs"), mode=0o755)
            diff_id, size = self._unpack(os.path.join(tmp, "fs"), stream, tee)
            if verify is not None:
                verify(diff_id)
            chain = dg.chain_id(parent_chain, diff_id)
            with self.meta.transaction():
                if self.meta.get_snapshot(chain) is not None:
                    return AppliedLayer(diff_id, chain, size, False)
                self._commit(tmp, chain, parent_chain, diff_id, size)
                return AppliedLayer(diff_id, chain, size, True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def unpack_detached(self, stream: Readable, tee: Callable[[bytes], None] | None = None) -> Detached:
        """Unpack a layer tar with no parent yet (extraction does not depend on it); `commit_detached` or
        `discard` it later. Nothing is visible before the commit; a crash leaves only an ingest dir."""
        tmp = os.path.join(self.root, f"ingest-{uuid.uuid4().hex}")
        try:
            os.makedirs(os.path.join(tmp, "fs"), mode=0o755)
            diff_id, size = self._unpack(os.path.join(tmp, "fs"), stream, tee)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Detached(tmp, diff_id, size)

    def commit_detached(self, layer: Detached, parent_chain: str | None) -> AppliedLayer:
        """Commit a detached unpack on top of `parent_chain` (dropped when that chain exists already)."""
        try:
            if parent_chain is not None:
                self._get(parent_chain)
            chain = dg.chain_id(parent_chain, layer.diff_id)
            with self.meta.transaction():
                if self.meta.get_snapshot(chain) is not None:
                    return AppliedLayer(layer.diff_id, chain, layer.size, False)
                self._commit(layer.tmp, chain, parent_chain, layer.diff_id, layer.size)
                return AppliedLayer(layer.diff_id, chain, layer.size, True)
        finally:
            shutil.rmtree(layer.tmp, ignore_errors=True)

    def discard(self, layer: Detached) -> None:
        shutil.rmtree(layer.tmp, ignore_errors=True)

    def _unpack(self, target: str, stream: Readable, tee: Callable[[bytes], None] | None) -> tuple[str, int]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_BERTH_PARENT, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(
            [self.python, "-m", "berth.store.unpack", target, *([self.idmap.encode()] if self.idmap else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True, env=env,
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        try:
            fcntl.fcntl(proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass
        hasher = hashlib.sha256()
        try:
            broken = False
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
                if tee is not None:
                    tee(chunk)
                if not broken:
                    try:
                        proc.stdin.write(chunk)
                    except BrokenPipeError:
                        broken = True
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            out = proc.stdout.read()
            err = proc.stderr.read()
            rc = proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                proc.wait()
            for f in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    f.close()
                except BrokenPipeError:
                    pass
        if rc != 0:
            msg = err.decode(errors="replace").strip().splitlines()
            reason = msg[-1] if msg else f"exit status {rc}"
            raise errdefs.InvalidParameter(f"failed to unpack layer: {reason}")
        return "sha256:" + hasher.hexdigest(), int(json.loads(out)["size"])

    def _commit(self, tmp: str, key: str, parent: str | None, diff_id: str | None, size: int) -> None:
        """Inside a metadata transaction: give `tmp` its number, link and record."""
        n = self.meta.next_snapshot_n()
        rec = SnapshotRecord(key, n, "committed" if diff_id else "active", parent, _short(), diff_id, None,
                             size, now_ns())
        final = self._dir(rec)
        link = os.path.join(self.links, rec.short)
        os.rename(tmp, final)
        try:
            os.symlink(f"../{n}/fs", link)
            self.meta.insert_snapshot(rec)
        except BaseException:
            if os.path.lexists(link):
                os.unlink(link)
            os.rename(final, tmp)
            raise

    def set_blob(self, chain_id: str, blob: str) -> None:
        """Record which content blob holds this layer's tar (for save/push and garbage collection)."""
        self._get(chain_id)
        self.meta.set_snapshot_blob(chain_id, blob)

    # -- containers -----------------------------------------------------------------------------
    def prepare_rw(self, key: str, chain_id: str | None) -> dict[str, Any]:
        """A writable snapshot `key` on top of `chain_id` (idempotent); returns its Mount."""
        with self.meta.transaction():
            rec = self.meta.get_snapshot(key)
            if rec is None:
                if chain_id is not None:
                    self._get(chain_id)
                tmp = os.path.join(self.root, f"ingest-{uuid.uuid4().hex}")
                try:
                    os.makedirs(os.path.join(tmp, "fs"), mode=0o755)
                    os.makedirs(os.path.join(tmp, "work"), mode=0o700)
                    if self.idmap is not None:  # the container's / is the upper dir: its root owns it
                        os.chown(os.path.join(tmp, "fs"), self.idmap.root_uid, self.idmap.root_gid)
                    self._commit(tmp, key, chain_id, None, 0)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
            elif rec.kind != "active":
                raise errdefs.Conflict(f"snapshot {key} is a committed layer")
        return self.mount(key)

    def lower_dirs(self, chain_id: str | None) -> list[str]:
        """The fs dirs of a layer chain, top layer first."""
        out: list[str] = []
        key = chain_id
        while key is not None:
            rec = self._get(key)
            out.append(os.path.join(self._dir(rec), "fs"))
            key = rec.parent
        return out

    def _lower_links(self, chain_id: str) -> list[str]:
        out: list[str] = []
        key: str | None = chain_id
        while key is not None:
            rec = self._get(key)
            out.append(os.path.join(self.links, rec.short))
            key = rec.parent
        return out

    def mount_options(self, key: str) -> list[str]:
        rec = self._get(key)
        if rec.parent is None:
            return ["rbind", "rw"]
        d = self._dir(rec)
        lower = ":".join(self._lower_links(rec.parent))
        opts = [f"lowerdir={lower}", f"upperdir={d}/fs", f"workdir={d}/work"]
        if self.index_off:  # layers are shared by many mounts: no overlay index (moby does the same)
            opts.insert(0, "index=off")
        if len(",".join(opts)) >= PAGE:
            raise errdefs.System(f"too many layers to mount snapshot {key}: mount data exceeds one page")
        return opts

    def mount(self, key: str) -> dict[str, Any]:
        """The Mount of an active snapshot: overlay, or a bind of its fs when it has no layers below."""
        rec = self._get(key)
        opts = self.mount_options(key)
        if rec.parent is None:
            return {"type": "bind", "source": os.path.join(self._dir(rec), "fs"), "options": opts}
        return {"type": "overlay", "source": "overlay", "options": opts}

    # -- removal and usage ----------------------------------------------------------------------
    def remove(self, key: str) -> bool:
        """Remove a snapshot without children; False when it does not exist."""
        with self.meta.transaction():
            rec = self.meta.get_snapshot(key)
            if rec is None:
                return False
            if self.meta.snapshot_children(key):
                raise errdefs.Conflict(f"cannot remove snapshot {key}: other snapshots depend on it")
            self.meta.delete_snapshot(key)
            gone = os.path.join(self.root, f"rm-{rec.n}-{uuid.uuid4().hex[:8]}")
            try:
                os.rename(self._dir(rec), gone)
            except FileNotFoundError:
                gone = ""
            link = os.path.join(self.links, rec.short)
            if os.path.lexists(link):
                os.unlink(link)
        if gone:
            shutil.rmtree(gone, ignore_errors=True)
        return True

    def usage(self, key: str) -> tuple[int, int]:
        """(bytes, inodes) used by the snapshot's own fs dir; hardlinks count once."""
        return tree_usage(os.path.join(self._dir(self._get(key)), "fs"))

    def _clean_orphans(self) -> None:
        """Drop what a crash left: unfinished unpacks, half-removed dirs, dirs and links without records."""
        known = {str(r.n): r.short for r in self.meta.snapshots()}
        for name in os.listdir(self.root):
            full = os.path.join(self.root, name)
            if name.startswith(("ingest-", "rm-")) or (name.isdigit() and name not in known):
                shutil.rmtree(full, ignore_errors=True)
        shorts = set(known.values())
        for name in os.listdir(self.links):
            if name not in shorts:
                os.unlink(os.path.join(self.links, name))
