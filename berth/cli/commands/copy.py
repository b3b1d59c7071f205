"""`berth cp`: files between a container and the local filesystem, with the docker CLI's path rules; a tar from
the container is extracted here without following anything out of the destination."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import tarfile
import tempfile

from berth.cli.pflag import Command, StatusError
from berth.client import APIError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, BinaryIO

    from berth.cli.main import Cli

CP = (Command("cp", "berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- "
                    "CONTAINER:DEST_PATH", "Copy files/folders between a container and the local filesystem",
              min_args=2, max_args=2)
      .flag("-a, --archive", help="Archive mode (copy all uid/gid information)")
      .flag("-L, --follow-link", help="Always follow symbol link in SRC_PATH")
      .flag("-q, --quiet", help="Suppress progress output during copy"))
CHUNK = 1 << 16


def _split(arg: str) -> tuple[str, str]:
    """(container, path), container "" for a local path (absolute or relative ones never name a container)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return "", arg
    container, _, path = arg.partition(":")
    return container, path


def cp(cli: Cli, argv: list[str]) -> int:
    ns = CP.parse(argv)
    (src_c, src), (dst_c, dst) = _split(ns.args[0]), _split(ns.args[1])
    if src_c and dst_c:
        raise StatusError(1, "copying between containers is not supported")
    if not src_c and not dst_c:
        raise StatusError(1, "must specify at least one container source")
    try:
        if src_c:
            _from_container(cli, src_c, src, dst)
        else:
            _to_container(cli, src, dst_c, dst, ns.archive, ns.follow_link)
    except APIError as exc:
        raise StatusError(1, str(exc)) from None
    return 0


def _stat(cli: Cli, container: str, path: str) -> dict[str, Any] | None:
    """The container's stat of `path`, or None where it does not exist."""
    try:
        resp = cli.client.open("HEAD", f"/containers/{container}/archive", {"path": path})
    except APIError as exc:
        if exc.status == 404 and "No such container" not in exc.message:
            return None
        raise
    resp.close()
    raw = resp.headers.get("x-docker-container-path-stat", "")
    return dict(json.loads(base64.b64decode(raw))) if raw else {}


def _is_dir(doc: dict[str, Any] | None) -> bool:
    """Whether a path stat (its Go FileMode) is a directory's."""
    return doc is not None and bool(int(doc.get("mode", 0)) & (1 << 31))


def _to_container(cli: Cli, src: str, container: str, dst: str, archive: bool, follow: bool) -> None:
    query: dict[str, Any] = {"noOverwriteDirNonDir": "true", "copyUIDGID": "true" if archive else None}
    if src == "-":
        query["path"] = dst
        cli.client.call("PUT", f"/containers/{container}/archive", {k: v for k, v in query.items() if v},
                        _chunks(sys.stdin.buffer), {"Content-Type": "application/x-tar"})
        return
    local = os.path.realpath(src) if follow else src
    try:
        st = os.stat(local) if follow else os.lstat(local)
    except OSError as exc:
        raise StatusError(1, f"lstat {os.path.abspath(src)}: {(exc.strerror or str(exc)).lower()}") from None
    target = _stat(cli, container, dst)
    if _is_dir(target):
        into, name = dst, os.path.basename(os.path.normpath(src))
    elif dst.endswith("/"):
        raise StatusError(1, f"Error response from daemon: Could not find the file {dst} in container {container}")
    else:
        if target is not None and stat.S_ISDIR(st.st_mode):
            raise StatusError(1, "cannot copy a directory to a file")
        into, name = os.path.dirname(dst.rstrip("/")) or "/", os.path.basename(dst.rstrip("/"))
        if not _is_dir(_stat(cli, container, into)):
            raise StatusError(1, "no such directory")
    query["path"] = into
    with tempfile.TemporaryFile() as spool:
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(local, arcname=name, recursive=True)
        spool.seek(0)
        cli.client.call("PUT", f"/containers/{container}/archive", {k: v for k, v in query.items() if v},
                        _chunks(spool), {"Content-Type": "application/x-tar"})


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def _from_container(cli: Cli, container: str, src: str, dst: str) -> None:
    resp = cli.client.stream("GET", f"/containers/{container}/archive", {"path": src})
    try:
        if dst == "-":
            for data in resp.iter_raw():
                cli.write_bytes(data)
            return
        raw = resp.headers.get("x-docker-container-path-stat", "")
        doc = json.loads(base64.b64decode(raw)) if raw else {}
        if os.path.isdir(dst):
            dest, rename = dst, None
        else:
            parent = os.path.dirname(os.path.abspath(dst))
            if not os.path.isdir(parent):
                raise StatusError(1, f"destination directory {parent!r} must exist")
            if os.path.lexists(dst) and _is_dir(doc):
                raise StatusError(1, "cannot copy a directory to a file")
            dest, rename = parent, os.path.basename(dst)
        extract(_RawReader(resp.iter_raw()), dest, str(doc.get("name") or ""), rename)
    finally:
        resp.close()


class _RawReader:
    """A file object over the response's chunks, for tarfile's stream mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buf = chunks, b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buf) < size:
            chunk = next(self.chunks, b"")
            if not chunk:
                break
            self.buf += chunk
        data, self.buf = (self.buf, b"") if size < 0 else (self.buf[:size], self.buf[size:])
        return data


def extract(source: Any, dest: str, top: str, rename: str | None) -> None:
    """Extract the container's tar into `dest`, the top entry `top` renamed to `rename`; refuse what would land
    outside `dest` (`..`, absolute names, a write through a symlink the tar made)."""
    root = os.path.realpath(dest)
    with tarfile.open(fileobj=source, mode="r|") as tar:
        for member in tar:
            name = member.name.lstrip("/")
            if rename and top and (name == top or name.startswith(top + "/")):
                name = rename + name[len(top):]
            full = os.path.realpath(os.path.join(root, os.path.dirname(name)))
            if (full != root and not full.startswith(root + os.sep)) or ".." in name.split("/"):
                raise StatusError(1, f"invalid tar member {member.name!r}: it would land outside {dest}")
            path = os.path.join(full, os.path.basename(name))
            if member.isdev():
                continue  # no device nodes here, as the docker CLI without privileges
            if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
                os.unlink(path)  # replaced, never written through
            elif os.path.isdir(path) and not member.isdir():
                raise StatusError(1, f"cannot overwrite directory {path!r} with non-directory {member.name!r}")
            if member.isdir():
                os.makedirs(path, exist_ok=True)
                os.chmod(path, member.mode & 0o7777)
            elif member.isreg():
                data = tar.extractfile(member)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, member.mode & 0o7777)
                with os.fdopen(fd, "wb") as f:
                    while data is not None and (chunk := data.read(CHUNK)):
                        f.write(chunk)
            elif member.issym():
                os.symlink(member.linkname, path)
            elif member.islnk():
                link = os.path.realpath(os.path.join(root, member.linkname.lstrip("/")))
                if not link.startswith(root + os.sep):
                    raise StatusError(1, f"invalid hardlink {member.name!r} -> {member.linkname!r}")
                os.link(link, path)
            else:
                continue
            if not member.issym():
                os.utime(path, (member.mtime, member.mtime))
