"""Child side (runtime layer): the container's init and exec'd processes, in runc's standard_init order.

Init: not dumpable (until its execve), setsid, lo up, rootfs (mounts, /dev, pivot_root), console, finalize
rootfs, hostname, sysctl, read-only and masked paths, oom score, rlimits, no_new_privs, seccomp (without
no_new_privs), bounding set, user, caps, cwd, seccomp (with no_new_privs), report ready, block on exec.fifo,
execve. Everything imported here is loaded before pivot_root: no import may happen in the container.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C module: `signal` would load `enum`
import fcntl
import os
import struct

from berth.kernel import abi, prctl
from berth.kernel.fds import cloexec_from
from berth.kernel.libc import LIBC, check
from berth.kernel.ns import unshare
from berth.kernel.seccomp import load_filter
from berth.kernel.signals import LIBC_RESERVED, ignored_signals, set_default_action
from berth.runtime.caps import CapConfig, drop_bounding, set_caps
from berth.runtime.hooks import has_hooks, hook_state, run_hooks
from berth.runtime.sync import Channel
from berth.runtime.user import apply_rlimits, find_executable, home_for, switch_user

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    import socket
    from typing import Any

    from berth.seccomp.filter import Filter


__all__ = ["InitArgs", "command_of", "default_signals", "enter_process", "env_map", "finalize_process",
           "run_exec_process", "run_init"]


class InitArgs:
    """What the init process needs, gathered by the parent before forking."""

    __slots__ = (
        "cgroup_dirs",
        "cgroupns",
        "console",
        "fifo_fd",
        "hook_info",
        "host_pid",
        "last_cap",
        "netns",
        "preserve_fds",
        "rootfs",
        "seccomp",
        "spec",
    )

    def __init__(
        self,
        spec: dict[str, Any],
        rootfs: str,
        fifo_fd: int,
        console: socket.socket | None,
        cgroup_dirs: list[str],
        last_cap: int,
        netns: bool,
        cgroupns: bool,
        preserve_fds: int = 0,
        hook_info: tuple[str, str] = ("", ""),
        seccomp: Filter | None = None,
    ) -> None:
        self.spec, self.rootfs, self.fifo_fd, self.console = spec, rootfs, fifo_fd, console
        self.cgroup_dirs, self.last_cap, self.netns, self.cgroupns = cgroup_dirs, last_cap, netns, cgroupns
        self.preserve_fds = preserve_fds
        self.hook_info = hook_info  # (container id, bundle) for the hooks' state
        self.host_pid = 0
        self.seccomp = seccomp  # compiled by the parent: nothing is compiled or read after pivot_root


def lo_up() -> None:
    """Bring the loopback interface of a new network namespace up."""
    fd = check(LIBC.socket(2, 2 | 0o2000000, 0), "socket")  # AF_INET, SOCK_DGRAM | SOCK_CLOEXEC
    try:
        req = struct.pack("16sH14s", b"lo", 0, b"")
        (flags,) = struct.unpack_from("H", fcntl.ioctl(fd, abi.SIOCGIFFLAGS, req), 16)
        fcntl.ioctl(fd, abi.SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | abi.IFF_UP, b""))
    finally:
        os.close(fd)


def _sysctl(values: dict[str, str]) -> None:
    for key, value in values.items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(str(value))


def _oom_score_adj(value: int | None) -> None:
    if value is None:
        return
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
    except OSError:
        pass  # best effort: lowering it needs CAP_SYS_RESOURCE


def own_oom_score_adj() -> int | None:
    """This process's oom_score_adj (what a child of ours starts with), None where it cannot be read."""
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return int(os.read(fd, 32))
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return None


def _set_names(spec: dict[str, Any]) -> None:
    for key, fn in (("hostname", LIBC.sethostname), ("domainname", LIBC.setdomainname)):
        if spec.get(key):
            name = spec[key].encode()
            check(fn(name, len(name)), f"set {key}")


def _environment(process: dict[str, Any]) -> list[str]:
    env = [str(e) for e in process.get("env") or []]
    if not any(e.startswith("HOME=") for e in env):
        env.append("HOME=" + home_for(int((process.get("user") or {}).get("uid", 0))))
    return env


def env_map(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in env:
        key, eq, value = e.partition("=")
        if eq:
            out[key] = value
    return out


def finalize_process(process: dict[str, Any], last_cap: int, preserve_fds: int = 0,
                     seccomp: Filter | None = None) -> tuple[str, list[str], list[str]]:
    """rlimits, no_new_privs, seccomp, caps and user, cwd, umask; returns (path, args, env) for execve."""
    enter_process(process, last_cap, preserve_fds, seccomp)
    return command_of(process)


def enter_process(process: dict[str, Any], last_cap: int, preserve_fds: int = 0,
                  seccomp: Filter | None = None) -> None:
    """Become what `process` runs as: rlimits, no_new_privs, seccomp, caps and user, cwd, umask (everything of
    it but its command and environment)."""
    cloexec_from(3 + preserve_fds)
    apply_rlimits(list(process.get("rlimits") or []))
    _oom_score_adj(process.get("oomScoreAdj"))
    nnp = bool(process.get("noNewPrivileges"))
    if nnp:
        prctl.set_no_new_privs()
    if seccomp is not None and not nnp:  # runc: without no_new_privs, while CAP_SYS_ADMIN is held
        load_filter(seccomp.loadable or seccomp.program, seccomp.flags)
    caps = CapConfig(process.get("capabilities"), last_cap)
    drop_bounding(caps)
    prctl.set_keepcaps(True)
    user = process.get("user") or {}
    switch_user(user)
    prctl.set_keepcaps(False)
    set_caps(caps)
    os.chdir(process.get("cwd") or "/")
    if seccomp is not None and nnp:
        load_filter(seccomp.loadable or seccomp.program, seccomp.flags)  # with no_new_privs: as late as it can
    if user.get("umask") is not None:
        os.umask(int(user["umask"]))


def command_of(process: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    """(path, args, env) for execve: args[0] looked up in the process's PATH, HOME set when the env has none."""
    args = [str(a) for a in process.get("args") or []]
    if not args:
        raise ValueError("process.args must not be empty")
    env = _environment(process)
    return find_executable(args[0], env), args, env


def _await_cgroups(ch: Channel, cgroupns: bool) -> None:
    """Wait until the parent has moved us into the container's cgroups; then make the cgroup namespace."""
    ch.wait_for("cgroups")
    if cgroupns:
        unshare(abi.CLONE_NEWCGROUP)


def _before_pivot(ch: Channel, a: InitArgs) -> None:
    """Runtime-side hooks (the parent runs them while we wait), then createContainer hooks in here."""
    if has_hooks(a.spec, "prestart", "createRuntime"):
        ch.send(hooks=True)
        ch.wait_for("hooks_done")
    if has_hooks(a.spec, "createContainer"):
        run_hooks(a.spec, ("createContainer",), hook_state(a.spec, *a.hook_info, a.host_pid, "created"))


def _init_steps(ch: Channel, a: InitArgs) -> tuple[str, list[str], list[str]]:
    from berth.runtime import rootfs as rootfs_mod  # init only (not exec); loaded before pivot_root

    spec = a.spec
    process, linux = spec.get("process") or {}, spec.get("linux") or {}
    os.setsid()
    if a.cgroupns:
        _await_cgroups(ch, True)
    if a.netns:
        lo_up()
    a.host_pid = int(os.readlink("/proc/self"))  # the host's /proc, until pivot_root
    rootfs_mod.prepare(spec, a.rootfs, a.cgroup_dirs, a.cgroupns, lambda: _before_pivot(ch, a),
                       lambda: ch.wait_for("cgroups_made"))
    if process.get("terminal") and a.console is not None:
        from berth.runtime.console import setup_console  # loaded by the parent before the fork

        setup_console(a.console, process.get("consoleSize"), mount_console=True)
    rootfs_mod.finalize(spec)
    _set_names(spec)
    _sysctl(linux.get("sysctl") or {})
    for path in linux.get("readonlyPaths") or []:
        rootfs_mod.readonly_path(path)
    for path in linux.get("maskedPaths") or []:
        rootfs_mod.mask_path(path)
    result = finalize_process(process, a.last_cap, a.preserve_fds, a.seccomp)
    if not a.cgroupns:
        _await_cgroups(ch, False)
    return result


def _report(ch: Channel, exc: BaseException) -> None:
    try:
        ch.send(error=str(exc) or exc.__class__.__name__)
    finally:
        os._exit(1)


def default_signals(ignored: tuple[int, ...] | None = None) -> None:
    """Every signal back to its default action, none blocked, before execve: an ignored signal stays ignored
    across it (Python ignores SIGPIPE and SIGXFSZ; a daemon started from a script also has SIGINT and SIGQUIT
    ignored), while caught ones go back to default by themselves. `ignored`: ignored_signals(), taken before
    the fork (then the child has less to do)."""
    for sig in ignored_signals() if ignored is None else ignored:
        if sig in LIBC_RESERVED:  # Python cannot set these two
            set_default_action(sig)
        else:
            _signal.signal(sig, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())


def _execve(path: str, args: list[str], env: list[str]) -> None:
    """execve; past `start` nobody reads the channel, so a failure is told on stderr, as runc does."""
    try:
        default_signals()
        os.execve(path, args, env_map(env))
    except OSError as e:
        text = os.strerror(e.errno) if e.errno else str(e)
        os.write(2, f"exec {path}: {text[:1].lower()}{text[1:]}\n".encode())
        os._exit(1)


def run_init(ch: Channel, a: InitArgs) -> None:
    """The container's pid 1 until execve; never returns."""
    try:
        prctl.set_dumpable(False)  # until its execve: processes that share its pid namespace must not read or trace it
        path, args, env = _init_steps(ch, a)
        ch.send(ready=True)
        ch.close()
        fd = os.open(f"/proc/self/fd/{a.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
        if has_hooks(a.spec, "startContainer"):
            run_hooks(a.spec, ("startContainer",), hook_state(a.spec, *a.hook_info, a.host_pid, "running"))
        _execve(path, args, env)
    except BaseException as e:
        _report(ch, e)
    os._exit(1)


def run_exec_process(
    ch: Channel, process: dict[str, Any], console: socket.socket | None, last_cap: int, preserve_fds: int = 0,
    seccomp: Filter | None = None, ignored: tuple[int, ...] | None = None, held: bool = False,
) -> None:
    """An exec'd process, already in the container's namespaces and cgroups; never returns. `ignored`: the
    signals to set back to default (see default_signals). `held`: once all is set, wait for the parent's go."""
    try:
        os.setsid()
        if process.get("terminal") and console is not None:
            from berth.runtime.console import setup_console  # loaded by the parent before the fork

            setup_console(console, process.get("consoleSize"), mount_console=False)
        path, args, env = finalize_process(process, last_cap, preserve_fds, seccomp)
        default_signals(ignored)
        environ = env_map(env)
        if held:
            ch.wait_for("go")
        os.execve(path, args, environ)
    except BaseException as e:
        _report(ch, e)
    os._exit(1)
