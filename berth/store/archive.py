"""`docker cp` helper (own process): `python -m berth.store.archive stat|get|put ROOT PATH [OPTIONS]` chroots into
a container's root (/proc/PID/root of a running one, so that its mounts show; or its mounted rootfs) and there
stats PATH, writes it as a tar to stdout, or extracts the tar on stdin into the directory PATH.

Inside the chroot every path, symlink and `..` resolves within the container: nothing the container made, and
nothing in the tar, reaches the host. As dockerd resolves it, PATH's directory follows symlinks and its last
element does not (a symlink is copied as a link), unless PATH ends in "/" or "/.".

Output: `stat` prints the stat JSON (what dockerd puts in X-Docker-Container-Path-Stat) on stdout; `get`
prints it as the first line of stdout, then the tar. Errors: one JSON line {"error", "kind"} on stderr and exit
status 1 (kind: not_found or invalid).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tarfile
from datetime import UTC, datetime
from typing import Any, BinaryIO

from berth.store.unpack import LayerError, clean_name

__all__ = ["go_file_mode", "main", "safe_name"]

# Go's os.FileMode type bits, which the docker CLI reads from the stat header
_GO_TYPE = ((stat.S_ISDIR, 1 << 31), (stat.S_ISLNK, 1 << 27), (stat.S_ISFIFO, 1 << 25), (stat.S_ISSOCK, 1 << 24),
            (stat.S_ISBLK, 1 << 26), (stat.S_ISCHR, (1 << 26) | (1 << 21)))


class CpError(Exception):
    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


def go_file_mode(mode: int) -> int:
    """A stat mode as Go's os.FileMode: permissions, setuid/setgid/sticky and the type bits."""
    out = mode & 0o777
    for bit, go in ((stat.S_ISUID, 1 << 23), (stat.S_ISGID, 1 << 22), (stat.S_ISVTX, 1 << 20)):
        if mode & bit:
            out |= go
    for test, go in _GO_TYPE:
        if test(mode):
            out |= go
    return out


def safe_name(name: str) -> str:
    """A member name as a path under the extraction directory; `..` may not climb out of it."""
    try:
        return clean_name(name)
    except LayerError:
        raise CpError(f"invalid tar member {name!r}: it climbs out of the destination") from None


def _resolve(path: str) -> tuple[str, str]:
    """(the path to act on, the name the tar uses): the directory follows symlinks, the last element not."""
    absolute = os.path.join("/", path)
    keeps_dot = path.endswith("/") or path.endswith("/.") or path in (".", "")
    directory, base = os.path.split(absolute.rstrip("/") or "/")
    resolved_dir = os.path.realpath(directory or "/")
    if keeps_dot or not base:
        target = os.path.realpath(absolute)
        return target, os.path.basename(target.rstrip("/")) or "/"
    return os.path.join(resolved_dir, base), base


def _stat_doc(target: str, name: str) -> dict[str, Any]:
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        raise CpError(f"Could not find the file {target}", "not_found") from None
    link = os.readlink(target) if stat.S_ISLNK(st.st_mode) else ""
    mtime = datetime.fromtimestamp(st.st_mtime_ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = st.st_mtime_ns % 1_000_000_000
    mtime += (f".{frac:09d}".rstrip("0") if frac else "") + "Z"
    return {"name": name, "size": st.st_size, "mode": go_file_mode(st.st_mode), "mtime": mtime,
            "linkTarget": link}


def stat_path(path: str) -> dict[str, Any]:
    target, name = _resolve(path)
    return _stat_doc(target, name)


def get(path: str, out: BinaryIO) -> None:
    target, name = _resolve(path)
    doc = _stat_doc(target, name)
    out.write(json.dumps(doc).encode() + b"\n")
    out.flush()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.add(target, arcname=name if name != "/" else ".", recursive=True)


def put(path: str, source: BinaryIO, no_overwrite_dir_non_dir: bool, owner: tuple[int, int] | None) -> None:
    absolute = os.path.join("/", path)
    target = os.path.realpath(absolute)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        raise CpError(f"Could not find the file {absolute}", "not_found") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CpError("extraction point is not a directory")
    with tarfile.open(fileobj=source, mode="r|") as tar:
        for member in tar:
            _extract(tar, member, target, no_overwrite_dir_non_dir, owner)


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: str, no_overwrite: bool,
             owner: tuple[int, int] | None) -> None:
    rel = safe_name(member.name)
    if not rel:
        return
    if member.isdev():
        raise CpError(f"device nodes cannot be copied into a container: {member.name!r}")
    full = os.path.join(dest, rel)
    parent = os.path.realpath(os.path.dirname(full))  # may be a symlink made by an earlier member: fine, in root
    os.makedirs(parent, exist_ok=True)
    full = os.path.join(parent, os.path.basename(full))
    existing = os.lstat(full) if os.path.lexists(full) else None
    if existing is not None and no_overwrite and stat.S_ISDIR(existing.st_mode) != member.isdir():
        what, other = ("directory", "non-directory") if stat.S_ISDIR(existing.st_mode) else ("non-directory",
                                                                                               "directory")
        raise CpError(f"cannot overwrite {what} {os.path.join('/', rel)!r} with {other} {member.name!r}")
    if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
        if stat.S_ISDIR(existing.st_mode):
            shutil.rmtree(full)
        else:
            os.unlink(full)
    mode = member.mode & 0o7777
    if member.isdir():
        if existing is None or not stat.S_ISDIR(existing.st_mode):
            os.mkdir(full, mode)
    elif member.isreg():
        fileobj = tar.extractfile(member)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as f:
            while fileobj is not None and (chunk := fileobj.read(1 << 20)):
                f.write(chunk)
    elif member.issym():
        if not member.linkname.startswith("/"):  # as dockerd: a relative link may not point out of the destination
            try:
                safe_name(os.path.join(os.path.dirname(rel), member.linkname))
            except CpError:
                raise CpError(f"invalid symlink {os.path.join('/', rel)!r} -> {member.linkname!r}") from None
        os.symlink(member.linkname, full)
    elif member.islnk():
        os.link(os.path.join(dest, safe_name(member.linkname)), full, follow_symlinks=False)
    elif member.isfifo():
        os.mkfifo(full, mode)
    else:
        return
    uid, gid = owner if owner is not None else (member.uid, member.gid)
    os.lchown(full, uid, gid)
    if not member.issym():
        os.chmod(full, mode)
        os.utime(full, (member.mtime, member.mtime))


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("stat", "get", "put"):
        sys.stderr.write(json.dumps({"error": "usage: stat|get|put ROOT PATH [OPTIONS]", "kind": "invalid"}) + "\n")
        return 2
    op, root, path = argv[0], argv[1], argv[2]
    opts = set(argv[3:])
    owner = None
    for opt in opts:
        if opt.startswith("--owner="):
            uid, _, gid = opt.removeprefix("--owner=").partition(":")
            owner = (int(uid), int(gid or uid))
    try:
        os.chroot(root)
        os.chdir("/")
        if op == "stat":
            sys.stdout.write(json.dumps(stat_path(path)) + "\n")
        elif op == "get":
            get(path, sys.stdout.buffer)
        else:
            put(path, sys.stdin.buffer, "--no-overwrite-dir-non-dir" in opts, owner)
    except CpError as exc:
        sys.stderr.write(json.dumps({"error": str(exc), "kind": exc.kind}) + "\n")
        return 1
    except (OSError, tarfile.TarError, ValueError) as exc:
        sys.stderr.write(json.dumps({"error": str(exc), "kind": "invalid"}) + "\n")
        return 1
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
