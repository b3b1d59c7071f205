"""Terminals (runtime layer): a pty from the container's devpts, its master sent over --console-socket.

As runc: the payload of the SCM_RIGHTS message is the pty's name; the slave becomes fds 0-2 and the
controlling terminal of the process (which has called setsid).
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

from berth.kernel import abi
from berth.kernel.mount import mount
from berth.runtime.paths import ensure_file

__all__ = ["connect_console_socket", "open_pty", "setup_console"]


def connect_console_socket(path: str) -> socket.socket:
    """Connect to the caller's console socket (a unix stream socket)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def open_pty() -> tuple[int, str]:
    """(master fd, slave path) of a new pty from /dev/ptmx."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, abi.TIOCSPTLCK, struct.pack("i", 0))
    (num,) = struct.unpack("I", fcntl.ioctl(master, abi.TIOCGPTN, b"\0\0\0\0"))
    return master, f"/dev/pts/{num}"


def setup_console(sock: socket.socket, size: dict[str, int] | None, mount_console: bool) -> None:
    """Make the pty, hand its master to the socket's peer, and make the slave our stdio and ctty."""
    master, name = open_pty()
    if size and size.get("height") and size.get("width"):
        fcntl.ioctl(master, abi.TIOCSWINSZ, struct.pack("HHHH", int(size["height"]), int(size["width"]), 0, 0))
    socket.send_fds(sock, [name.encode()], [master])
    os.close(master)
    sock.close()
    slave = os.open(name, os.O_RDWR | os.O_CLOEXEC)
    if mount_console:
        ensure_file("/dev/console")
        mount(name, "/dev/console", None, abi.MS_BIND)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)
    fcntl.ioctl(0, abi.TIOCSCTTY, 0)
