"""Registry client (distribution layer): one registry's /v2/ API over httpx, with its authentication."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import httpx

from berth.distribution.auth import Authenticator, Credentials
from berth.distribution.errors import RegistryError, from_response
from berth.oci import digest as dg
from berth.oci import mediatypes as mt

__all__ = ["MANIFEST_ACCEPT", "MAX_MANIFEST", "FetchedManifest", "RegistryClient"]

MAX_MANIFEST = 4 << 20  # moby's limit on a manifest body
CHUNK = 1 << 16
MANIFEST_ACCEPT = ", ".join((mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST,
                             mt.DOCKER_SCHEMA1_SIGNED, mt.DOCKER_SCHEMA1))
USER_AGENT = "berth (docker-compatible engine) go/none"


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    raw: bytes
    media_type: str
    digest: str


def pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def push_scope(repo: str, mount_from: str = "") -> str:
    scope = f"repository:{repo}:pull,push"
    return scope + (f" repository:{mount_from}:pull" if mount_from else "")


class RegistryClient:
    """Requests to one registry base URL (`http://127.0.0.1:5000`); 401s answered once per challenge."""

    def __init__(self, base_url: str, creds: Credentials | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None, verify: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=15.0), follow_redirects=True, verify=verify,
                                 headers={"User-Agent": USER_AGENT}, transport=transport,
                                 limits=httpx.Limits(max_connections=16, max_keepalive_connections=8))
        self.auth = Authenticator(self.http, creds or Credentials())

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    # -- plumbing -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def send(self, method: str, path: str, scope: str, *, headers: dict[str, str] | None = None,
             params: Any = None, content: Any = None, retry: bool = True) -> Iterator[httpx.Response]:
        """A streamed response (the body is unread); a 401 is answered with credentials and retried once."""
        for attempt in (0, 1):
            req = self.http.build_request(method, self.url(path), params=params, content=content,
                                          headers={**(headers or {}), **self.auth.header(scope)})
            resp = self.http.send(req, stream=True)
            if resp.status_code == 401 and attempt == 0 and retry and self.auth.on_unauthorized(resp):
                resp.close()
                continue
            try:
                yield resp
            finally:
                resp.close()
            return

    def call(self, method: str, path: str, scope: str, ok: tuple[int, ...], **kw: Any) -> httpx.Response:
        """A request whose body is small: read it, raise RegistryError unless the status is in `ok`."""
        with self.send(method, path, scope, **kw) as resp:
            resp.read()
        if resp.status_code not in ok:
            raise from_response(resp.status_code, resp.content, resp.reason_phrase)
        return resp

    def ping(self) -> None:
        """GET /v2/ with the credentials (docker login): RegistryError unless the registry accepts them."""
        self.call("GET", "/v2/", "", (200,))

    def reachable(self) -> bool:
        """Whether a registry answers /v2/ here (200 or 401); False on connection or TLS failures."""
        try:
            return self.call("GET", "/v2/", "", (200, 401), retry=False).status_code in (200, 401)
        except (httpx.HTTPError, RegistryError):
            return False

    # -- manifests ------------------------------------------------------------------------------
    def get_manifest(self, repo: str, reference: str) -> FetchedManifest:
        """A manifest or index by tag or digest; bytes verified when asked by digest, size-limited."""
        headers = {"Accept": MANIFEST_ACCEPT}
        with self.send("GET", f"/v2/{repo}/manifests/{reference}", pull_scope(repo), headers=headers) as resp:
            if resp.status_code != 200:
                resp.read()
                raise from_response(resp.status_code, resp.content, resp.reason_phrase)
            declared = int(resp.headers.get("content-length") or 0)
            if declared > MAX_MANIFEST:
                raise RegistryError(413, "", f"manifest too large: {declared} bytes (the limit is {MAX_MANIFEST})")
            body = bytearray()
            for chunk in resp.iter_bytes(CHUNK):
                body += chunk
                if len(body) > MAX_MANIFEST:
                    raise RegistryError(413, "", f"manifest too large: over {MAX_MANIFEST} bytes")
            media_type = resp.headers.get("content-type", "").partition(";")[0].strip()
        raw = bytes(body)
        digest = dg.sha256(raw)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(400, "DIGEST_INVALID",
                                f"manifest verification failed for digest {reference}: got {digest}")
        return FetchedManifest(raw, media_type, digest)

    def put_manifest(self, repo: str, reference: str, raw: bytes, media_type: str) -> str:
        resp = self.call("PUT", f"/v2/{repo}/manifests/{reference}", push_scope(repo), (200, 201, 202),
                         headers={"Content-Type": media_type}, content=raw)
        return resp.headers.get("docker-content-digest") or dg.sha256(raw)

    def tags(self, repo: str) -> list[str]:
        out: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list"
        while path:
            resp = self.call("GET", path, pull_scope(repo), (200,))
            out += list(resp.json().get("tags") or [])
            link = resp.headers.get("link", "")
            path = link.partition("<")[2].partition(">")[0] if 'rel="next"' in link else None
        return out

    # -- blobs ----------------------------------------------------------------------------------
    def has_blob(self, repo: str, digest: str, scope: str = "") -> bool:
        with self.send("HEAD", f"/v2/{repo}/blobs/{digest}", scope or pull_scope(repo)) as resp:
            pass
        if resp.status_code == 200:
            return True
        if resp.status_code == 404:
            return False
        raise from_response(resp.status_code, b"", resp.reason_phrase)

    @contextlib.contextmanager
    def blob(self, repo: str, digest: str) -> Iterator[httpx.Response]:
        """The blob's streamed response (redirects followed; Authorization dropped on another host)."""
        with self.send("GET", f"/v2/{repo}/blobs/{digest}", pull_scope(repo)) as resp:
            if resp.status_code != 200:
                resp.read()
                raise from_response(resp.status_code, resp.content, resp.reason_phrase)
            yield resp

    def mount_blob(self, repo: str, digest: str, source: str) -> str | None:
        """Cross-repository mount; None when mounted, else the upload Location the registry opened."""
        resp = self.call("POST", f"/v2/{repo}/blobs/uploads/", push_scope(repo, source), (201, 202),
                         params={"mount": digest, "from": source})
        if resp.status_code == 201:
            return None
        return self._location(resp)

    def start_upload(self, repo: str) -> str:
        resp = self.call("POST", f"/v2/{repo}/blobs/uploads/", push_scope(repo), (202,))
        return self._location(resp)

    def _location(self, resp: httpx.Response) -> str:
        loc = resp.headers.get("location")
        if not loc:
            raise RegistryError(resp.status_code, "BLOB_UPLOAD_INVALID", "upload answer without a Location")
        return str(resp.url.join(loc))

    def upload(self, repo: str, location: str, digest: str, size: int, src: BinaryIO,
               progress: Callable[[int], None] | None = None) -> None:
        """Send `size` bytes of `src` to an opened session as docker does: one streamed PATCH, then PUT ?digest=."""

        def body() -> Iterator[bytes]:
            sent = 0
            while chunk := src.read(CHUNK * 4):
                sent += len(chunk)
                yield chunk
                if progress is not None:
                    progress(sent)

        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if size:
            resp = self.call("PATCH", location, push_scope(repo), (202, 204), headers=headers, content=body(),
                             retry=False)
            location = self._location(resp)
        url = httpx.URL(location).copy_merge_params({"digest": digest})
        self.call("PUT", str(url), push_scope(repo), (201, 204), headers={"Content-Length": "0"}, retry=False)
