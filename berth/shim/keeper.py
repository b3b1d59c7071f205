"""The shim's keeper (shim layer): a lean parent that holds an idle container while its worker is gone.

    keeper K (subreaper, session leader, lives as long as the container)
      └── worker S (the shim's service: berth.shim.service), forked again by K when there is work

CPython writes reference counts into every object it touches, so every page of shared (zygote) memory a shim
runs through becomes its own copy: a worker that has served a start and an exec owns about 2 MiB. The keeper
runs almost no Python (a poll loop), so it stays near a fork's floor. A worker that has been idle for a
while hands its state and fds to the keeper and exits; the keeper forks a fresh worker when one of those fds
wakes (a client connects, the container writes output, the daemon's wait connection ends) or the init
exits, and the fresh worker picks the state up (`berth.shim.main.resume`).

Messages on the keeper's SOCK_SEQPACKET pair, worker -> keeper (the keeper only ever answers):
  b"t"                     the worker took a request: the keeper stops being a spare (no PDEATHSIG, own session)
  b"i" + pid               the container's init; the keeper watches and reaps it when it is its child
  b"s" + pid               the wait status of the init (the keeper's child): answer b"%d" % status
  b"h" + header + blob     hand-over with SCM_RIGHTS fds; header: init pid, count of fds that wake the
                           keeper (they come first); the keeper answers b"k" and holds them
"""

from __future__ import annotations

import _socket
import os
import select
import struct

from berth.kernel.prctl import set_child_subreaper, set_name, set_pdeathsig
from berth.shim.protocol import received_fds

_signal = __import__("_signal")  # the constants without the `signal` module, which loads `enum`

__all__ = ["KeeperLink", "MAX_FDS", "run_keeper", "start_keeper"]

MAX_FDS = 250  # SCM_LIMIT on Linux is 253 fds per message
_HEADER = struct.Struct("=iI")  # init pid, number of wake fds
_MAX_MESSAGE = 1 << 20
_WAKE = select.POLLIN | select.POLLHUP | select.POLLERR


def _fork_worker_process() -> tuple[int, _socket.socket]:
    """Fork a worker joined to this keeper by a SOCK_SEQPACKET pair: (0, its end) in the worker, which dies
    with the keeper; (its pid, the keeper's end) here."""
    keeper_end, worker_end = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    for s in (keeper_end, worker_end):
        os.set_inheritable(s.fileno(), False)
    keeper = os.getpid()
    pid = os.fork()
    if pid == 0:
        keeper_end.close()
        set_pdeathsig(_signal.SIGKILL)  # the worker never outlives its keeper
        if os.getppid() != keeper:
            os._exit(0)
        return 0, worker_end
    worker_end.close()
    return pid, keeper_end


def start_keeper(spare: bool) -> _socket.socket:
    """Fork the worker; in the worker return its end of the pair, in the keeper close every other fd (the
    worker's business), serve and exit.

    `spare`: the keeper is a zygote's spare and dies with it until the worker says it took a request."""
    set_child_subreaper(True)
    pid, end = _fork_worker_process()
    if pid == 0:
        return end
    keep = end.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)
    os._exit(run_keeper(end, pid, spare))


class _Keeper:
    __slots__ = ("blob", "fds", "init_pid", "init_pidfd", "init_status", "sock", "spare", "wake", "worker",
                 "worker_pidfd")

    def __init__(self, sock: _socket.socket, worker: int, spare: bool) -> None:
        self.sock: _socket.socket | None = sock
        self.worker = worker
        self.worker_pidfd = os.pidfd_open(worker)
        self.spare = spare
        self.init_pid = 0
        self.init_pidfd = -1
        self.init_status: int | None = None
        self.blob = b""
        self.fds: list[int] = []
        self.wake = 0

    def watch_init(self, pid: int) -> None:
        if pid <= 0 or pid == self.init_pid:
            return
        self.init_pid = pid
        try:
            self.init_pidfd = os.pidfd_open(pid)
        except OSError:
            self.init_pidfd = -1

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.init_pid:
                self.init_status = status
            elif pid == self.worker:
                self.worker = 0

    def on_message(self) -> None:
        assert self.sock is not None
        try:
            msg, anc, _, _ = self.sock.recvmsg(_MAX_MESSAGE, _socket.CMSG_SPACE(MAX_FDS * 4))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            msg, anc = b"", []
        fds = received_fds(anc)
        op = msg[:1]
        if op == b"s":
            self._answer_status(int(msg[1:]))
        elif op == b"h" and len(msg) >= 1 + _HEADER.size:
            init_pid, self.wake = _HEADER.unpack_from(msg, 1)
            self.blob, self.fds = msg[1 + _HEADER.size:], fds
            self.watch_init(init_pid)
            self._send(b"k")
            fds = []
        elif op == b"i":
            self.watch_init(int(msg[1:]))
        elif op == b"t" and self.spare:
            self.spare = False
            set_pdeathsig(0)
            os.setsid()
            set_name(b"berth-shim")
        elif not msg:  # the worker's end is closed
            self.sock.close()
            self.sock = None
        for fd in fds:  # fds nobody asked us to hold
            os.close(fd)

    def _answer_status(self, pid: int) -> None:
        if pid == self.init_pid and self.init_status is None:
            try:
                _, self.init_status = os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        status = self.init_status if pid == self.init_pid else None
        self._send(b"-" if status is None else b"%d" % status)

    def _send(self, data: bytes) -> None:
        if self.sock is not None:
            try:
                self.sock.send(data)
            except OSError:
                pass

    def worker_gone(self) -> bool:
        """The worker exited: True when it handed over (the keeper goes on holding), False when it ended."""
        os.close(self.worker_pidfd)
        self.worker_pidfd = -1
        while self.sock is not None:  # a hand-over sent just before the exit is still queued
            try:
                self.sock.setblocking(False)
                self.on_message()
            except OSError:
                break
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        return bool(self.fds)

    def fork_worker(self) -> None:
        pid, end = _fork_worker_process()
        if pid == 0:
            if self.init_pidfd >= 0:
                os.close(self.init_pidfd)
            from berth.shim.main import resume

            os._exit(resume(end, self.blob, self.fds, self.init_pid, self.init_status))
        for fd in self.fds:  # the worker owns them now: a close there must reach the peer
            os.close(fd)
        self.blob, self.fds, self.wake = b"", [], 0
        self.sock, self.worker = end, pid
        self.worker_pidfd = os.pidfd_open(pid)


def run_keeper(sock: _socket.socket, worker: int, spare: bool) -> int:
    """The keeper's loop: answer the worker; while there is none, wait for a reason to fork one."""
    k = _Keeper(sock, worker, spare)
    poller = select.poll()
    watched: list[int] = []
    while True:
        want = _watch_set(k)
        if want != watched:
            for fd in watched:
                poller.unregister(fd)
            for fd in want:
                poller.register(fd, _WAKE if fd not in (k.worker_pidfd, k.init_pidfd) else select.POLLIN)
            watched = want
        try:
            events = poller.poll()
        except InterruptedError:
            continue
        ready = {fd for fd, _ in events}
        if k.sock is not None and k.sock.fileno() in ready:
            k.on_message()
        k.reap()
        if k.worker_pidfd >= 0 and (k.worker_pidfd in ready or not k.worker):
            if k.worker:
                try:
                    os.waitpid(k.worker, 0)
                except ChildProcessError:
                    pass
                k.worker = 0
            if not k.worker_gone() or k.spare:
                return 0  # the shim is done (or died): so is its keeper
            continue
        if k.worker_pidfd < 0 and ready:
            if k.init_pidfd in ready:
                poller.unregister(k.init_pidfd)
                watched.remove(k.init_pidfd)
                os.close(k.init_pidfd)
                k.init_pidfd = -1
                k.reap()
            k.fork_worker()


def _watch_set(k: _Keeper) -> list[int]:
    if k.worker_pidfd >= 0:
        return [fd for fd in (k.sock.fileno() if k.sock is not None else -1, k.worker_pidfd) if fd >= 0]
    return [*k.fds[: k.wake], *([k.init_pidfd] if k.init_pidfd >= 0 else [])]


class KeeperLink:
    """The worker's side of the pair: requests to its keeper."""

    __slots__ = ("sock",)

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock

    def took(self) -> None:
        self.sock.send(b"t")

    def tell_init(self, pid: int) -> None:
        self.sock.send(b"i%d" % pid)

    def init_status(self, pid: int) -> int | None:
        """The wait status of `pid`, the container's init, reaped by the keeper (None if it is not its child)."""
        self.sock.send(b"s%d" % pid)
        answer = self.sock.recv(64)
        return None if answer in (b"-", b"") else int(answer)

    def hand_over(self, init_pid: int, wake: list[int], hold: list[int], blob: bytes) -> bool:
        """Give the keeper `wake` + `hold` (fds) and `blob`; True once it has them (then exit at once)."""
        fds = [*wake, *hold]
        if len(fds) > MAX_FDS or len(blob) > _MAX_MESSAGE - 64:
            return False
        msg = b"h" + _HEADER.pack(init_pid, len(wake)) + blob
        try:
            self.sock.sendmsg([msg], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])
            return self.sock.recv(8) == b"k"
        except OSError:
            return False
