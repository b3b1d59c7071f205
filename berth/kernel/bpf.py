"""bpf(2) through ctypes (kernel layer): load a cgroup device program and attach it to a cgroup."""

from __future__ import annotations

import ctypes
import os
import platform

from berth.kernel.libc import LIBC, check

__all__ = ["attach_cgroup_device", "attached_device_progs", "detach_cgroup_device", "load_cgroup_device"]

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
_ATTR_SIZE = 128


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char], what: str) -> int:
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        raise OSError(38, f"bpf: no syscall number known for {platform.machine()}")
    return check(LIBC.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), attr, ctypes.c_uint(_ATTR_SIZE)), what)


def load_cgroup_device(code: bytes, license: bytes = b"Apache") -> int:
    """BPF_PROG_LOAD a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd (the verifier's log in the error)."""
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(license + b"\0")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    ctypes.memmove(ctypes.addressof(attr), ctypes.byref(ctypes.c_uint32(BPF_PROG_TYPE_CGROUP_DEVICE)), 4)
    fields = (
        (4, ctypes.c_uint32(len(code) // 8)),
        (8, ctypes.c_uint64(ctypes.addressof(insns))),
        (16, ctypes.c_uint64(ctypes.addressof(lic))),
        (24, ctypes.c_uint32(1)),
        (28, ctypes.c_uint32(len(log))),
        (32, ctypes.c_uint64(ctypes.addressof(log))),
        (68, ctypes.c_uint32(BPF_CGROUP_DEVICE)),
    )
    for off, val in fields:
        ctypes.memmove(ctypes.addressof(attr) + off, ctypes.byref(val), ctypes.sizeof(val))
    name = b"berth_dev"
    ctypes.memmove(ctypes.addressof(attr) + 48, name, len(name))
    try:
        return _bpf(BPF_PROG_LOAD, attr, "bpf prog load")
    except OSError as e:
        text = log.value.decode(errors="replace").strip()
        raise OSError(e.errno, f"{e.strerror}{': ' + text if text else ''}") from None


def _attach_attr(cgroup_fd: int, prog_fd: int, flags: int) -> ctypes.Array[ctypes.c_char]:
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    for off, val in ((0, cgroup_fd), (4, prog_fd), (8, BPF_CGROUP_DEVICE), (12, flags)):
        ctypes.memmove(ctypes.addressof(attr) + off, ctypes.byref(ctypes.c_uint32(val)), 4)
    return attr


def attach_cgroup_device(cgroup_dir: str, prog_fd: int) -> None:
    """BPF_PROG_ATTACH the program to a cgroup2 directory as a BPF_CGROUP_DEVICE filter (multi mode)."""
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _bpf(BPF_PROG_ATTACH, _attach_attr(fd, prog_fd, BPF_F_ALLOW_MULTI), "bpf prog attach")
    finally:
        os.close(fd)


def attached_device_progs(cgroup_dir: str) -> list[int]:
    """The ids of the device programs attached directly to a cgroup2 directory."""
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    ids = (ctypes.c_uint32 * 64)()
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    try:
        for off, val in ((0, fd), (4, BPF_CGROUP_DEVICE), (8, 0), (12, 0)):
            ctypes.memmove(ctypes.addressof(attr) + off, ctypes.byref(ctypes.c_uint32(val)), 4)
        ctypes.memmove(ctypes.addressof(attr) + 16, ctypes.byref(ctypes.c_uint64(ctypes.addressof(ids))), 8)
        ctypes.memmove(ctypes.addressof(attr) + 24, ctypes.byref(ctypes.c_uint32(64)), 4)
        _bpf(BPF_PROG_QUERY, attr, "bpf prog query")
    finally:
        os.close(fd)
    count = ctypes.c_uint32.from_buffer(attr, 24).value
    return [ids[i] for i in range(min(count, 64))]


def detach_cgroup_device(cgroup_dir: str, prog_id: int) -> None:
    """BPF_PROG_DETACH one device program (by id) from a cgroup2 directory."""
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    ctypes.memmove(ctypes.addressof(attr), ctypes.byref(ctypes.c_uint32(prog_id)), 4)
    prog_fd = _bpf(BPF_PROG_GET_FD_BY_ID, attr, "bpf prog get fd")
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _bpf(BPF_PROG_DETACH, _attach_attr(fd, prog_fd, 0), "bpf prog detach")
    finally:
        os.close(fd)
        os.close(prog_fd)
