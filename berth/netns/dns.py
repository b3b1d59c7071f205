"""Embedded DNS helper: listens on 127.0.0.11:53 inside containers' namespaces, answers from the daemon's table.

Run as `python -m berth.netns.dns`. Commands arrive as JSON lines on stdin, one reply line each on stdout:
  {"op": "set", "cid": ..., "ns": PATH, "records": {name: [ipv4, ...]}, "upstream": [ip, ...]}
  {"op": "del", "cid": ...}
Sockets are made in the container's namespace (setns in this single-threaded process) and served from here.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from berth.kernel.ns import setns

CLONE_NEWNET = 0x40000000
ADDR = ("127.0.0.11", 53)


@dataclass
class Listener:
    """One container's resolver: its sockets, names and upstream servers."""

    udp: socket.socket
    tcp: socket.socket
    records: dict[str, list[str]] = field(default_factory=dict)
    upstream: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    inflight: set[asyncio.Task[None]] = field(default_factory=set)

    def track(self, task: asyncio.Task[None]) -> None:
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)


def sockets_in(ns_path: str) -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets bound to 127.0.0.11:53 in the namespace at `ns_path`."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(target, CLONE_NEWNET)
        try:
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(ADDR)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind(ADDR)
            tcp.listen(64)
        finally:
            setns(home, CLONE_NEWNET)
    finally:
        os.close(home)
        os.close(target)
    udp.setblocking(False)
    tcp.setblocking(False)
    return udp, tcp


def local_answer(query: DNSRecord, records: dict[str, list[str]]) -> DNSRecord | None:
    """An answer from the table, or None to forward."""
    qname = str(query.q.qname).rstrip(".").lower()
    ips = records.get(qname)
    if ips is None:
        return None
    reply = query.reply()
    reply.header.ra = 1
    if query.q.qtype in (QTYPE.A, QTYPE.ANY):
        for ip in ips:
            reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(ip), ttl=600))
    return reply


async def forward(data: bytes, upstream: list[str]) -> bytes | None:
    loop = asyncio.get_running_loop()
    for server in upstream:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (server, 53))
            await loop.sock_sendall(sock, data)
            return await asyncio.wait_for(loop.sock_recv(sock, 65535), 3)
        except (OSError, TimeoutError):
            continue
        finally:
            sock.close()
    return None


async def resolve(data: bytes, lst: Listener) -> bytes | None:
    try:
        query = DNSRecord.parse(data)
    except Exception:
        return None
    answer = local_answer(query, lst.records)
    if answer is not None:
        return bytes(answer.pack())
    forwarded = await forward(data, lst.upstream)
    if forwarded is not None:
        return forwarded
    fail = query.reply()
    fail.header.rcode = RCODE.SERVFAIL
    return bytes(fail.pack())


async def serve_udp(lst: Listener) -> None:
    loop = asyncio.get_running_loop()
    while True:
        data, peer = await loop.sock_recvfrom(lst.udp, 65535)
        lst.track(loop.create_task(_answer_udp(lst, data, peer)))


async def _answer_udp(lst: Listener, data: bytes, peer: Any) -> None:
    reply = await resolve(data, lst)
    if reply is not None:
        await asyncio.get_running_loop().sock_sendto(lst.udp, reply, peer)


async def serve_tcp(lst: Listener) -> None:
    loop = asyncio.get_running_loop()
    while True:
        conn, _ = await loop.sock_accept(lst.tcp)
        lst.track(loop.create_task(_answer_tcp(lst, conn)))


async def _answer_tcp(lst: Listener, conn: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    conn.setblocking(False)
    try:
        head = await asyncio.wait_for(loop.sock_recv(conn, 2), 5)
        want = int.from_bytes(head, "big") if len(head) == 2 else 0
        data = b""
        while len(data) < want:
            chunk = await asyncio.wait_for(loop.sock_recv(conn, want - len(data)), 5)
            if not chunk:
                return
            data += chunk
        reply = await resolve(data, lst)
        if reply is not None:
            await loop.sock_sendall(conn, len(reply).to_bytes(2, "big") + reply)
    except (OSError, TimeoutError):
        pass
    finally:
        conn.close()


def _drop(lst: Listener) -> None:
    for t in lst.tasks:
        t.cancel()
    lst.udp.close()
    lst.tcp.close()


def handle(cmd: dict[str, Any], listeners: dict[str, Listener]) -> str:
    cid = str(cmd.get("cid") or "")
    if cmd.get("op") == "del":
        lst = listeners.pop(cid, None)
        if lst is not None:
            _drop(lst)
        return "ok"
    if cmd.get("op") != "set":
        return "error: unknown op"
    lst = listeners.get(cid)
    if lst is None:
        udp, tcp = sockets_in(str(cmd["ns"]))
        lst = Listener(udp, tcp)
        loop = asyncio.get_running_loop()
        lst.tasks = [loop.create_task(serve_udp(lst)), loop.create_task(serve_tcp(lst))]
        listeners[cid] = lst
    lst.records = {k.lower(): list(v) for k, v in (cmd.get("records") or {}).items()}
    lst.upstream = [str(s) for s in (cmd.get("upstream") or [])]
    return "ok"


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    listeners: dict[str, Listener] = {}
    while line := await reader.readline():
        try:
            reply = handle(json.loads(line), listeners)
        except Exception as exc:  # one bad command must not stop the resolver of every container
            reply = f"error: {exc}"
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
