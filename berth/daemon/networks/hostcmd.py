"""Kernel changes through short-lived `ip`, `unshare` and `nft` processes (no fork, no setns in the daemon)."""

from __future__ import annotations

import asyncio
import contextlib
import os

from berth import errdefs
from berth.kernel.mount import umount2

__all__ = ["add_interface", "attach_netns", "bridge_exists", "delete_link", "enslave_link", "ensure_bridge",
           "link_exists", "nft_apply", "nft_delete_table", "release_netns", "run", "run_output", "write_sysctl"]

MNT_DETACH = 2


async def run(argv: list[str], stdin: bytes | None = None, check: bool = True) -> tuple[int, str]:
    """Run a command; its exit code and stderr (raises System with stderr when `check` and it fails)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate(stdin)
    text = err.decode(errors="replace").strip()
    rc = proc.returncode or 0
    if check and rc != 0:
        raise errdefs.System(f"{argv[0]} failed: {text}")
    return rc, text


async def run_output(argv: list[str]) -> tuple[int, str]:
    """Run a command; its exit code and stdout."""
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


def write_sysctl(path: str, value: str) -> None:
    with open(os.path.join("/proc/sys", path), "w") as f:
        f.write(value)


def bridge_exists(name: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{name}/bridge")


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _create_file(path: str) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDONLY | os.O_CLOEXEC, 0o444))


async def ensure_bridge(name: str, cidr: str, mtu: int = 1500) -> None:
    """Create bridge `name` with address `cidr` (when missing) and bring it up; forwarding on."""
    if not link_exists(name):
        await run(["ip", "link", "add", name, "mtu", str(mtu), "type", "bridge"])
    rc, _ = await run(["ip", "addr", "replace", cidr, "dev", name], check=False)
    if rc != 0:
        await run(["ip", "addr", "add", cidr, "dev", name])
    await run(["ip", "link", "set", name, "up"])
    write_sysctl("net/ipv4/ip_forward", "1")
    write_sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")


async def attach_netns(ns_path: str, bridge: str, host_if: str, mac: str, cidr: str, gateway: str | None,
                       mtu: int = 1500, enslave: bool = True) -> None:
    """A new network namespace bind-mounted at `ns_path` with eth0 (a veth to `bridge`) and a default route.

    Two processes: `unshare --net=PATH ip -batch -` makes the namespace and, inside it, the veth pair whose
    peer goes back to our (the host's) namespace by pid; then `ip` enslaves that peer to the bridge (unless
    not `enslave`: then the caller runs `enslave_link` later, and cleans up when that fails)."""
    _create_file(ns_path)
    inner = (f"link add eth0 address {mac} mtu {mtu} type veth peer name {host_if} netns {os.getpid()}\n"
             f"link set lo up\naddr add {cidr} dev eth0\nlink set eth0 up\n")
    if gateway:
        inner += f"route add default via {gateway}\n"
    try:
        await run(["unshare", f"--net={ns_path}", "ip", "-batch", "-"], stdin=inner.encode())
        if enslave:
            await enslave_link(host_if, bridge)
    except BaseException:
        with contextlib.suppress(errdefs.BerthError):
            await delete_link(host_if)
        release_netns(ns_path)
        raise


async def enslave_link(host_if: str, bridge: str) -> None:
    """Put the host end of a container's veth on `bridge`, and up."""
    await run(["ip", "link", "set", host_if, "master", bridge, "up"])


async def add_interface(ns_path: str, bridge: str, host_if: str, ifname: str, mac: str, cidr: str) -> None:
    """One more veth from `bridge` into an existing named namespace (a second network)."""
    batch = (f"link add {host_if} type veth peer name {ifname} address {mac} netns {ns_path}\n"
             f"link set {host_if} master {bridge} up\n")
    await run(["ip", "-batch", "-"], stdin=batch.encode())
    inner = f"addr add {cidr} dev {ifname}\nlink set {ifname} up\n"
    try:
        await run(["nsenter", f"--net={ns_path}", "ip", "-batch", "-"], stdin=inner.encode())
    except BaseException:
        await delete_link(host_if)
        raise


async def delete_link(name: str) -> None:
    if link_exists(name):
        await run(["ip", "link", "del", name], check=False)


def release_netns(ns_path: str) -> None:
    """Unmount and remove a named namespace (its veth goes with it once no process holds it)."""
    with contextlib.suppress(Exception):
        umount2(ns_path, MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(ns_path)


async def nft_apply(script: str) -> None:
    """Apply an nft script as one atomic batch."""
    await run(["nft", "-f", "-"], stdin=script.encode())


async def nft_delete_table(table: str) -> None:
    await run(["nft", "delete", "table", "ip", table], check=False)
