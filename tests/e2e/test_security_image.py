"""Hostile image content: a setuid-root binary and file capabilities in a layer survive the import, yet give a
non-root user no more than the container's capability bounding set."""

from __future__ import annotations

import io
import struct
import tarfile
from collections.abc import Iterator

import pytest

from tests.daemon_harness import Daemon
from tests.e2e.security import probe
from tests.rootfs import busybox_tar_bytes

pytestmark = pytest.mark.e2e

CAP_CHOWN, CAP_NET_RAW, CAP_NET_ADMIN, CAP_SYS_ADMIN = 0, 13, 12, 21
DOCKER_DEFAULT = 0xA80425FB


def _file_caps(permitted: int, effective: bool) -> str:
    """A security.capability xattr value (VFS_CAP_REVISION_2), as tarfile's PAX headers carry it."""
    raw = struct.pack("<IIIII", 0x02000000 | int(effective), permitted & 0xFFFFFFFF, 0, permitted >> 32, 0)
    return raw.decode("utf-8", "surrogateescape")


@pytest.fixture(scope="module")
def hostile(berthd: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("hostile")
    with open(probe.build(str(tmp)), "rb") as f:
        binary = f.read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(busybox_tar_bytes(str(tmp))), mode="r") as src, \
            tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as out:
        for m in src.getmembers():
            out.addfile(m, src.extractfile(m) if m.isfile() else None)
        extra = (
            ("bin/suidprobe", 0o4755, {}),
            ("bin/capprobe-p", 0o755, {"SCHILY.xattr.security.capability": _file_caps(
                1 << CAP_CHOWN | 1 << CAP_NET_RAW | 1 << CAP_SYS_ADMIN | 1 << CAP_NET_ADMIN, False)}),
            ("bin/capprobe-e", 0o755, {"SCHILY.xattr.security.capability": _file_caps(
                1 << CAP_CHOWN | 1 << CAP_SYS_ADMIN, True)}),
        )
        for name, mode, pax in extra:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(binary), mode, 0, 0
            info.pax_headers = pax
            out.addfile(info, io.BytesIO(binary))
    res = berthd.docker("import", "-", "hostile:latest", input=buf.getvalue())
    assert res.returncode == 0, res.stderr.decode()
    yield "hostile:latest"
    berthd.docker("rmi", "-f", "hostile:latest")


def _status(d: Daemon, image: str, *opts: str, cmd: str) -> dict[str, list[str]]:
    res = d.docker("run", "--rm", *opts, image, "sh", "-c", cmd)
    assert res.returncode == 0, res.stderr.decode()
    out: dict[str, list[str]] = {}
    for line in res.stdout.decode().splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.split()
    return out


def test_setuid_bit_survives_and_gives_only_the_containers_caps(berthd: Daemon, hostile: str) -> None:
    res = berthd.docker("run", "--rm", hostile, "stat", "-c", "%A %u", "/bin/suidprobe")
    assert res.stdout.decode().split() == ["-rwsr-xr-x", "0"]
    st = _status(berthd, hostile, "--user", "1000", cmd="/bin/suidprobe status")
    assert st["Uid"][:2] == ["1000", "0"]  # real uid 1000, effective root
    assert int(st["CapEff"][0], 16) == DOCKER_DEFAULT
    assert int(st["CapBnd"][0], 16) == DOCKER_DEFAULT
    dropped = _status(berthd, hostile, "--user", "1000", "--cap-drop", "ALL", cmd="/bin/suidprobe status")
    assert int(dropped["CapEff"][0], 16) == 0


def test_no_new_privileges_ignores_setuid(berthd: Daemon, hostile: str) -> None:
    st = _status(berthd, hostile, "--user", "1000", "--security-opt", "no-new-privileges",
                 cmd="/bin/suidprobe status")
    assert st["Uid"][:2] == ["1000", "1000"]
    assert int(st["CapEff"][0], 16) == 0


def test_file_caps_survive_import_clipped_to_the_bounding_set(berthd: Daemon, hostile: str) -> None:
    st = _status(berthd, hostile, "--user", "1000", cmd="/bin/capprobe-p status")
    assert int(st["CapPrm"][0], 16) == (1 << CAP_CHOWN | 1 << CAP_NET_RAW)  # SYS_ADMIN, NET_ADMIN clipped
    assert int(st["CapEff"][0], 16) == 0
    st = _status(berthd, hostile, "--user", "1000", "--cap-drop", "CHOWN", cmd="/bin/capprobe-p status")
    assert int(st["CapPrm"][0], 16) == 1 << CAP_NET_RAW


def test_effective_file_caps_beyond_the_bounding_set_refuse_to_run(berthd: Daemon, hostile: str) -> None:
    res = berthd.docker("run", "--rm", "--user", "1000", hostile, "/bin/capprobe-e", "status")
    assert res.returncode != 0
    assert "exec /bin/capprobe-e: operation not permitted" in res.stderr.decode()
    st = _status(berthd, hostile, "--user", "1000", "--cap-add", "SYS_ADMIN", cmd="/bin/capprobe-e status")
    assert int(st["CapEff"][0], 16) == 1 << CAP_CHOWN | 1 << CAP_SYS_ADMIN
