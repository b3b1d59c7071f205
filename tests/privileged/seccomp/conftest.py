"""Seccomp tests on the real kernel: the runtime's bundle fixtures, runc, and a raw-syscall probe."""

from __future__ import annotations

import os
from typing import Any

from tests.privileged.runtime.conftest import DOCKER_CAPS, make_bundle, runc, runtime

__all__ = ["DOCKER_CAPS", "PROBE", "docker_seccomp", "make_bundle", "probe_bundle", "runc", "runtime"]

# Runs inside the container with the host's python (its /usr bind-mounted read-only): one line per probe,
# "name errno" (0 = the call got through). Arguments are harmless: NULL pointers, bad magic numbers.
PROBE = r"""
import ctypes, os
libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(name, nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    print(name, 0 if rc >= 0 else ctypes.get_errno())
call("getpid", 39)
call("mkdir", 83, 0, 0)
call("unshare-user", 272, 0x10000000)
call("unshare-mount", 272, 0x00020000)
call("keyctl", 250, 0, 0, 0)
call("add_key", 248, 0, 0, 0, 0, 0)
call("bpf", 321, 5, 0, 0)
call("perf_event_open", 298, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0)
call("kexec_load", 246, 0, 0, 0, 0)
call("swapon", 167, 0, 0)
call("reboot-bad-magic", 169, 0, 0, 0, 0)
call("settimeofday", 164, 0, 0)
call("clone-newns", 56, 0x00020000 | 17, 0, 0, 0, 0)
call("clone3", 435, 0, 0)
call("personality-query", 135, 0xFFFFFFFF)
call("personality-bad", 135, 1)
call("socket-vsock", 41, 40, 1, 0)
call("socket-unix", 41, 1, 1, 0)
call("ptrace-traceme-bad", 101, 0xFFFF, 0, 0, 0)
call("chroot", 161, 0)
call("sethostname", 170, 0, 0)
call("mount", 165, 0, 0, 0, 0, 0)
call("syslog", 103, 3, 0, 0)
call("nr-1000", 1000)
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith(("Seccomp", "NoNewPrivs")):
            print(line.strip().replace("\t", " "))
"""


def docker_seccomp(caps: list[str] | None = None) -> dict[str, Any]:
    """The OCI seccomp dockerd would put in config.json for these bounding caps (Docker's default profile)."""
    from berth.seccomp.default import default_profile
    from berth.seccomp.profile import resolve

    out = resolve(default_profile(), caps if caps is not None else DOCKER_CAPS)
    assert out is not None
    return out


def probe_bundle(bundle: Any, seccomp: dict[str, Any] | None, args: list[str] | None = None, **over: Any) -> None:
    """Write a config that runs PROBE (or `args`) with the host's /usr mounted read-only at /usr."""
    for link, target in (("lib", "usr/lib"), ("lib64", "usr/lib64")):
        if not os.path.lexists(bundle.rootfs / link):
            os.symlink(target, bundle.rootfs / link)
    cfg = bundle.write_config(args or ["/usr/bin/python3", "-S", "-c", PROBE], **over)
    cfg["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]})
    if seccomp is None:
        cfg["linux"].pop("seccomp", None)
    else:
        cfg["linux"]["seccomp"] = seccomp
    import json

    (bundle.path / "config.json").write_text(json.dumps(cfg))
