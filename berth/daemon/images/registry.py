"""Registry service (services layer): pull, push and login through berth.distribution, as dockerd does."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from berth import errdefs
from berth.daemon.images import refs
from berth.daemon.images.authconfig import credentials, decode_header
from berth.distribution.auth import Credentials
from berth.distribution.client import RegistryClient
from berth.distribution.endpoints import base_urls, is_insecure
from berth.distribution.errors import RegistryError
from berth.distribution.meta import DistributionStore

if TYPE_CHECKING:
    from berth.daemon.images.service import ImagesService

__all__ = ["Cancelled", "Emit", "RegistryOptions", "RegistryService", "connection_error"]

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    insecure: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    max_downloads: int = 3
    max_uploads: int = 5


class Cancelled(Exception):
    """The client went away: the transfer stops at its next progress report."""


def connection_error(method: str, url: str, exc: Exception) -> errdefs.BerthError:
    """Go's net/http style: `Get "http://h/v2/": dial tcp h: connect: connection refused`."""
    host = httpx.URL(url).netloc.decode()
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        if "name or service not known" in reason.lower() or "name resolution" in reason.lower():
            reason = f"dial tcp: lookup {httpx.URL(url).host}: no such host"
        else:
            reason = f"dial tcp {host}: connect: " + ("connection refused" if "refused" in reason.lower() else reason)
    return errdefs.System(f'{method.capitalize()} "{url}": {reason}')


class RegistryService:
    """State shared by every transfer: the distribution records, the limits and the in-flight tables."""

    def __init__(self, images: ImagesService, dist: DistributionStore, options: RegistryOptions) -> None:
        for name in ("httpx", "httpcore"):  # one line per request would drown berthd's debug log
            logging.getLogger(name).setLevel(logging.WARNING)
        self.images = images
        self.dist = dist
        self.options = options
        self.downloads = threading.BoundedSemaphore(max(1, options.max_downloads))
        self.uploads = threading.BoundedSemaphore(max(1, options.max_uploads))
        self.lock = threading.Lock()
        self.inflight: dict[str, concurrent.futures.Future[None]] = {}
        self.waited: set[str] = set()
        self.unpacking: dict[str, threading.Lock] = {}

    @staticmethod
    def store(data_root: str) -> DistributionStore:
        """The distribution records of a data root (made before the images service: its GC asks them)."""
        return DistributionStore(os.path.join(data_root, "distribution.db"))

    def close(self) -> None:
        self.dist.close()

    # -- endpoints ------------------------------------------------------------------------------
    def endpoints(self, domain: str) -> list[str]:
        return base_urls(domain, self.options.insecure, self.options.mirrors)

    @contextmanager
    def client(self, base_url: str, creds: Credentials) -> Iterator[RegistryClient]:
        host = base_url.partition("://")[2]
        verify = not (base_url.startswith("https://") and is_insecure(host, self.options.insecure))
        with RegistryClient(base_url, creds, verify=verify) as client:
            yield client

    def reachable_base(self, domain: str) -> str:
        """The first endpoint of `domain` (no mirrors) that answers /v2/; the last one when none does."""
        bases = base_urls(domain, self.options.insecure)
        for base in bases[:-1]:
            with self.client(base, Credentials()) as client:
                if client.reachable():
                    return base
        return bases[-1]

    # -- in-flight downloads: one download per digest, however many pulls want it -------------
    def claim(self, digest: str) -> tuple[concurrent.futures.Future[None], bool]:
        """The download's future, and whether the caller owns (must perform) it."""
        with self.lock:
            fut = self.inflight.get(digest)
            if fut is not None:
                self.waited.add(digest)
                return fut, False
            fut = concurrent.futures.Future()
            self.inflight[digest] = fut
            return fut, True

    def finish(self, digest: str, fut: concurrent.futures.Future[None], exc: BaseException | None) -> None:
        with self.lock:
            self.inflight.pop(digest, None)
        if exc is None:
            fut.set_result(None)
        else:
            fut.set_exception(exc)

    def take_waited(self, digest: str) -> bool:
        """Whether another pull waited for this download (its blob must then outlive a failed owner)."""
        with self.lock:
            if digest in self.waited:
                self.waited.discard(digest)
                return True
            return False

    def unpack_lock(self, chain_id: str) -> threading.Lock:
        with self.lock:
            return self.unpacking.setdefault(chain_id, threading.Lock())

    # -- API entry points -----------------------------------------------------------------------
    async def pull(self, from_image: str, tag: str = "", platform: str = "",
                   auth_header: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """POST /images/create?fromImage=: jsonmessage dicts; errors before the first one propagate."""
        from berth.daemon.images.pull import pull

        ref = _pull_ref(from_image, tag)
        creds = credentials(decode_header(auth_header))
        async for msg in _bridge(lambda emit: pull(self, ref, platform, creds, emit)):
            yield msg

    async def push(self, name: str, tag: str = "", auth_header: str | None = None) -> AsyncIterator[dict[str, Any]]:
        from berth.daemon.images.push import push

        ref = refs.parse(name)
        if tag:
            ref = refs.parse_tag(ref.name, tag) if not ref.tag else ref
        creds = credentials(decode_header(auth_header))
        async for msg in _bridge(lambda emit: push(self, ref, creds, emit)):
            yield msg

    async def login(self, body: dict[str, Any]) -> dict[str, str]:
        """POST /auth: check the credentials against the registry's /v2/ (its challenge answered)."""
        from berth.daemon.images.login import login

        return await asyncio.to_thread(login, self, body)


def _pull_ref(from_image: str, tag: str) -> refs.Reference:
    ref = refs.parse(from_image)
    if tag and not ref.tag and not ref.digest:
        if tag.startswith("sha256:"):
            return refs.parse(f"{ref.name}@{tag}")
        return refs.parse_tag(ref.name, tag)
    return ref


async def _bridge(work: Callable[[Emit], None]) -> AsyncIterator[dict[str, Any]]:
    """Run blocking `work(emit)` in a thread; yield what it emits; its exception ends the stream."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def emit(msg: dict[str, Any]) -> None:
        if stop.is_set():
            raise Cancelled("the client went away")
        loop.call_soon_threadsafe(queue.put_nowait, ("msg", msg))

    def run() -> None:
        try:
            work(emit)
        except BaseException as exc:
            loop.call_soon_threadsafe(queue.put_nowait, ("err", exc))
        else:
            loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

    task = loop.run_in_executor(None, run)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "msg":
                yield value
            elif kind == "err":
                raise value
            else:
                return
    finally:
        stop.set()
        if not task.done():
            task.add_done_callback(lambda _t: None)


def registry_error(exc: RegistryError) -> errdefs.BerthError:
    """A registry error for the API (its HTTP status class)."""
    if exc.status == 404:
        return errdefs.NotFound(exc.text())
    if exc.status in (401, 403):
        return errdefs.Unauthorized(exc.text())
    return errdefs.System(exc.text())
