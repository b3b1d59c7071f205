"""`exec` (runtime layer): build the process from --process or the container's own, start it, wait."""

from __future__ import annotations

import copy
import os

from berth.runtime import jsonc
from berth.runtime.caps import cap_mask
from berth.runtime.cgroups import Cgroups
from berth.runtime.errors import RuntimeFailure
from berth.runtime.execjoin import ExecTarget
from berth.runtime.waiting import become_subreaper, wait_for

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["build_process", "exec_process", "exec_target"]


def _merge_env(env: list[str], extra: list[str]) -> list[str]:
    out: dict[str, str] = {}
    for e in [*env, *extra]:
        out[e.partition("=")[0]] = e
    return list(out.values())


def build_process(base: dict[str, Any], opts: dict[str, Any], args: list[str]) -> dict[str, Any]:
    """The OCI process for exec: --process P.json, or the container's process with the CLI's overrides."""
    if opts.get("process"):
        with open(opts["process"]) as f:
            proc: dict[str, Any] = jsonc.loads(f.read())
        return proc
    if not args:
        raise RuntimeFailure("exec args cannot be empty")
    proc = copy.deepcopy(base)
    proc["args"] = args
    proc["terminal"] = bool(opts.get("tty"))
    proc["env"] = _merge_env(list(proc.get("env") or []), list(opts.get("env") or []))
    if opts.get("cwd"):
        proc["cwd"] = opts["cwd"]
    if opts.get("user"):
        uid, _, gid = opts["user"].partition(":")
        proc["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    if opts.get("additional-gids"):
        proc.setdefault("user", {})["additionalGids"] = [int(g) for g in opts["additional-gids"]]
    if opts.get("no-new-privs"):
        proc["noNewPrivileges"] = True
    for cap in opts.get("cap") or []:
        caps = proc.setdefault("capabilities", {})
        for key in ("bounding", "effective", "permitted", "inheritable", "ambient"):
            if cap_mask([cap], 63) and cap not in caps.setdefault(key, []):
                caps[key].append(cap)
    return proc


def exec_target(c: Any) -> ExecTarget:
    """What a process exec'd in the running container `c` joins (runc: it gets the container's seccomp filter)."""
    if not c.alive():
        raise RuntimeFailure("cannot exec in a stopped container")
    from berth.runtime.seccomp import prepare as prepare_seccomp

    seccomp = prepare_seccomp(c.data.get("config") or {}, os.path.dirname(c.dir))
    return ExecTarget(c.pid, Cgroups.from_state(c.data.get("cgroups") or {}), seccomp)


def exec_process(c: Any, opts: dict[str, Any], args: list[str]) -> int:
    """Run a new process in container `c`; the process's exit code unless --detach."""
    target = exec_target(c)
    try:
        pid, console, proxy = _spawn(target, c, opts, args)
    finally:
        target.close()
    from berth.runtime.warmup import reap_warmup

    reap_warmup(opts.get("warmup-pid", 0))
    if console is not None:
        console.close()
    if opts.get("pid-file"):
        from berth.util.atomic import write_atomic

        write_atomic(os.path.abspath(opts["pid-file"]), str(pid).encode(), durable=False)
    if opts.get("detach"):
        return 0
    if proxy is not None:
        proxy.serve()
    return wait_for(pid)


def _spawn(target: ExecTarget, c: Any, opts: dict[str, Any], args: list[str]) -> tuple[int, Any, Any]:
    """(pid, console socket or None, tty proxy or None) of the process started in `target`."""
    proc = build_process((c.data.get("config") or {}).get("process") or {}, opts, args)
    console = None
    proxy = None
    if proc.get("terminal"):
        if opts.get("console-socket"):
            from berth.runtime.console import connect_console_socket

            console = connect_console_socket(opts["console-socket"])
        elif opts.get("detach"):
            raise RuntimeFailure("cannot allocate tty if runc will detach without setting console socket")
        else:
            from berth.runtime.ttyproxy import TtyProxy

            proxy = TtyProxy()
            console = proxy.console_socket()
    if not opts.get("detach"):
        become_subreaper()
    return target.spawn(proc, console, int(opts.get("preserve-fds") or 0)), console, proxy
