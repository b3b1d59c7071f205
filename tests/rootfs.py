"""Builds test root filesystems from Debian's busybox-static (no network, no registry)."""

from __future__ import annotations

import io
import os
import shutil
import tarfile

BUSYBOX = "/bin/busybox"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nstaff:x:50:alice\nalice:x:1000:\nnogroup:x:65534:\n"


def applets() -> list[str]:
    """The applet names this busybox offers."""
    import subprocess

    out = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout
    return [a for a in out.split() if a and a != "busybox"]


def make_busybox_rootfs(dest: str) -> str:
    """Create a busybox rootfs in `dest`: /bin/busybox, an applet symlink each, /etc/passwd and group."""
    for d in ("bin", "etc", "tmp", "root", "home/alice", "proc", "sys", "dev"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(dest, "bin", "busybox"))
    for name in applets():
        link = os.path.join(dest, "bin", name)
        if not os.path.lexists(link):
            os.symlink("/bin/busybox", link)
    with open(os.path.join(dest, "etc", "passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(dest, "etc", "group"), "w") as f:
        f.write(GROUP)
    os.chown(os.path.join(dest, "home/alice"), 1000, 1000) if os.geteuid() == 0 else None
    return dest


def busybox_tar_bytes(tmpdir: str) -> bytes:
    """The busybox rootfs as an uncompressed tar (what `berth import` takes)."""
    root = make_busybox_rootfs(os.path.join(tmpdir, "bbroot"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(os.listdir(root)):
            tar.add(os.path.join(root, entry), arcname=entry)
    return buf.getvalue()
