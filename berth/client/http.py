"""Hand-written HTTP/1.1 over AF_UNIX (or TCP): requests, chunked bodies, JSON streams, hijack."""

from __future__ import annotations

import _socket  # the C module: `socket` adds selectors/enum imports, ~4 ms of CLI start-up

from berth.util import minijson

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import IO, Any

    Body = bytes | Iterable[bytes] | IO[bytes] | None

__all__ = ["Connection", "Response", "connect", "parse_host"]

_CHUNK = 65536


def parse_host(host: str) -> tuple[str, str | tuple[str, int]]:
    """Split a docker host URL into ("unix", path) or ("tcp", (host, port))."""
    if host.startswith("unix://"):
        return "unix", host[len("unix://"):]
    if host.startswith("/"):
        return "unix", host
    if host.startswith(("tcp://", "http://")):
        rest = host.split("://", 1)[1].rstrip("/")
        name, _, port = rest.rpartition(":")
        if not name:
            return "tcp", (rest, 2375)
        return "tcp", (name.strip("[]"), int(port))
    raise ValueError(f"unsupported host {host!r}")


def connect(host: str, timeout: float | None = None) -> _socket.socket:
    """Open a stream socket to the daemon named by the host URL."""
    kind, addr = parse_host(host)
    if kind == "unix":
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(addr)
        except OSError:
            sock.close()
            raise
        return sock
    import socket
    assert isinstance(addr, tuple)
    tcp = socket.create_connection(addr, timeout)
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return tcp


class Reader:
    """Buffered reads from a socket: lines for the HTTP head, then whatever is there."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(_CHUNK)
        self.buf += data
        return bool(data)

    def readline(self, limit: int = 65536) -> bytes:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            if len(self.buf) >= limit or not self._fill():
                line, self.buf = self.buf, b""
                return line

    def read1(self, size: int = _CHUNK) -> bytes:
        """Up to size bytes: buffered ones first, else one recv (b"" at EOF)."""
        if not self.buf and not self._fill():
            return b""
        data, self.buf = self.buf[:size], self.buf[size:]
        return data


def _iter_body(body: Iterable[bytes] | IO[bytes]) -> Iterator[bytes]:
    read = getattr(body, "read", None)
    if read is None:
        yield from body
        return
    while True:
        data = read(_CHUNK)
        if not data:
            return
        yield data


class Response:
    """A response whose headers are read; the body is read on demand (whole, chunks or JSON stream)."""

    def __init__(self, conn: Connection, status: int, reason: str, headers: dict[str, str],
                 head: bool = False) -> None:
        self.conn = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        self._head = head
        self._done = False

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    def iter_raw(self) -> Iterator[bytes]:
        """The body as it arrives: de-chunked, by Content-Length, or until the peer closes."""
        if self._done:
            return
        self._done = True
        rfile = self.conn.rfile
        if self._head or self.status in (204, 304) or 100 <= self.status < 200:
            return
        if self.chunked:
            while True:
                line = rfile.readline()
                if not line:
                    raise ConnectionError("connection closed inside a chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    data = rfile.read1(min(left, _CHUNK))
                    if not data:
                        raise ConnectionError("connection closed inside a chunk")
                    left -= len(data)
                    yield data
                rfile.readline()
        elif "content-length" in self.headers:
            left = int(self.headers["content-length"])
            while left:
                data = rfile.read1(min(left, _CHUNK))
                if not data:
                    raise ConnectionError("connection closed inside the body")
                left -= len(data)
                yield data
        else:
            self.conn.reusable = False
            while data := rfile.read1(_CHUNK):
                yield data

    def read(self) -> bytes:
        return b"".join(self.iter_raw())

    def json(self) -> Any:
        data = self.read()
        return minijson.loads(data) if data.strip() else None

    def iter_json(self) -> Iterator[Any]:
        """A JSON message stream: objects one after another, separated by optional whitespace."""
        import json  # streams only (events, pull progress): its raw_decode finds where each message ends

        decoder = json.JSONDecoder()
        buf = ""
        for data in self.iter_raw():
            buf += data.decode("utf-8", "replace")
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    obj, end = decoder.raw_decode(buf)
                except ValueError:
                    break
                buf = buf[end:]
                yield obj
        if buf.strip():
            yield json.loads(buf)

    def close(self) -> None:
        self.conn.close()


class Connection:
    """One HTTP/1.1 connection; after a hijack its socket carries the raw stream both ways."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.rfile = Reader(sock)
        self.reusable = True

    def request(self, method: str, path: str, query: dict[str, Any] | None = None,
                body: Body = None, headers: dict[str, str] | None = None) -> Response:
        """Send one request and read the status line and headers of the answer."""
        target = quote(path, safe="/:@!$&'()*+,;=-._~")
        if query:
            target += "?" + encode_query(query)
        hdrs = {"Host": "api.moby.localhost", "User-Agent": "Berth-Client/0.1"}
        hdrs.update(headers or {})
        if isinstance(body, bytes):
            hdrs["Content-Length"] = str(len(body))
        elif body is not None:
            hdrs["Transfer-Encoding"] = "chunked"
        elif method in ("POST", "PUT"):
            hdrs["Content-Length"] = "0"
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        if isinstance(body, bytes):
            self.sock.sendall(head.encode("latin-1") + body)
        else:
            self.sock.sendall(head.encode("latin-1"))
            if body is not None:
                for data in _iter_body(body):
                    if data:
                        self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
                self.sock.sendall(b"0\r\n\r\n")
        return self.read_response(head=method == "HEAD")

    def read_response(self, head: bool = False) -> Response:
        while True:
            line = self.rfile.readline(65536)
            if not line:
                raise ConnectionError("the daemon closed the connection")
            parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise ConnectionError(f"malformed status line {line!r}")
            status = int(parts[1])
            headers: dict[str, str] = {}
            while True:
                hline = self.rfile.readline(65536).decode("latin-1").rstrip("\r\n")
                if not hline:
                    break
                key, _, value = hline.partition(":")
                headers[key.strip().lower()] = value.strip()
            if status == 100:
                continue
            if headers.get("connection", "").lower() == "close":
                self.reusable = False
            return Response(self, status, parts[2] if len(parts) > 2 else "", headers, head)

    def recv(self, size: int = _CHUNK) -> bytes:
        """Raw bytes after a hijack (leftovers buffered with the headers come first)."""
        return self.rfile.read1(size)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.reusable = False
        self.sock.close()


_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def quote(text: str, safe: str = "") -> str:
    """Percent-encode UTF-8 bytes outside the unreserved set (and `safe`)."""
    ok = _SAFE | frozenset(safe.encode())
    return "".join(chr(b) if b in ok else f"%{b:02X}" for b in text.encode("utf-8"))


def encode_query(query: dict[str, Any]) -> str:
    """Encode a query dict; list values repeat the key, booleans become 1/0, None is left out."""
    out = []
    for key, value in query.items():
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if v is None:
                continue
            if isinstance(v, bool):
                v = "1" if v else "0"
            out.append(f"{quote(str(key), safe='')}={quote(str(v), safe='')}")
    return "&".join(out)
