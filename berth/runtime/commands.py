"""The runtime's commands (runtime layer): create, start, run, state, kill, delete, list, exec."""

from __future__ import annotations

import os
import select
import signal
import sys

from berth.runtime import jsonc
from berth.runtime.cgroups import Cgroups, resolve_path
from berth.runtime.errors import RuntimeFailure
from berth.runtime.state import Container, process_start_time, rfc3339_now
from berth.runtime.waiting import become_subreaper, wait_for

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["dispatch"]


def _one_id(args: list[str], cmd: str) -> str:
    if not args:
        raise RuntimeFailure(f'"{cmd}" requires a container id')
    return args[0]


def load_spec(bundle: str) -> dict[str, Any]:
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            spec: dict[str, Any] = jsonc.loads(f.read())
    except FileNotFoundError:
        raise RuntimeFailure(f"JSON specification file config.json not found in {bundle}") from None
    return spec


def write_pid_file(path: str | None, pid: int) -> None:
    if path:
        from berth.util.atomic import write_atomic

        write_atomic(os.path.abspath(path), str(pid).encode(), durable=False)  # state of a running process


def create(root: str, cid: str, opts: dict[str, Any]) -> Container:
    bundle = os.path.abspath(opts.get("bundle") or ".")
    spec = load_spec(bundle)
    from berth.runtime.sysctls import validate as validate_sysctls

    validate_sysctls(spec)
    c = Container(root, cid)
    os.makedirs(root, 0o711, exist_ok=True)
    try:
        os.mkdir(c.dir, 0o711)
    except FileExistsError:
        raise RuntimeFailure(f"container with id exists: {cid}") from None
    cgroups: Cgroups | None = None
    try:
        os.mkfifo(c.fifo, 0o622)
        os.chmod(c.fifo, 0o622)
        rootfs = os.path.join(bundle, (spec.get("root") or {}).get("path") or "rootfs")
        linux = spec.get("linux") or {}
        cgroups = Cgroups.for_path(resolve_path(linux.get("cgroupsPath"), cid))
        made = cgroups

        def meanwhile() -> None:
            # while the child builds the container (it mounts the cgroups once told they exist); init joins
            # them once it reports its pid, and that first migration's RCU wait overlaps the rest of its work
            made.create()
            made.apply(linux.get("resources"))
            Container.preload()
        console = None
        if (spec.get("process") or {}).get("terminal"):
            if opts.get("tty-proxy") is not None:
                console = opts["tty-proxy"].console_socket()
            elif not opts.get("console-socket"):
                raise RuntimeFailure("cannot allocate tty if runc will detach without setting console socket")
            else:
                from berth.runtime.console import connect_console_socket

                console = connect_console_socket(opts["console-socket"])
        from berth.runtime.process import spawn_init
        from berth.runtime.seccomp import prepare as prepare_seccomp

        pid = spawn_init(
            spec,
            os.path.realpath(rootfs),
            c.fifo,
            console,
            cgroups,
            idle=meanwhile,
            preserve_fds=int(opts.get("preserve-fds") or 0),
            hook_info=(cid, bundle),
            on_hooks=lambda pid: _hooks(spec, ("prestart", "createRuntime"), cid, bundle, pid, "creating"),
            seccomp=prepare_seccomp(spec, root),
        )
        if console is not None:
            console.close()
        from berth.runtime.warmup import reap_warmup

        reap_warmup(opts.get("warmup-pid", 0))
        st = process_start_time(pid)
        c.data = {
            "id": cid,
            "pid": pid,
            "start_time": st[0] if st else 0,
            "bundle": bundle,
            "rootfs": os.path.realpath(rootfs),
            "created": rfc3339_now(),
            "annotations": spec.get("annotations") or {},
            "cgroups": cgroups.to_state(),
            "config": spec,
        }
        c.save()
        write_pid_file(opts.get("pid-file"), pid)
    except BaseException:
        if cgroups is not None:
            cgroups.kill_and_wait()
            cgroups.destroy()
        c.remove()
        raise
    return c


def _hooks(spec: dict[str, Any], stages: tuple[str, ...], cid: str, bundle: str, pid: int, status: str,
           strict: bool = True) -> None:  # fmt: skip
    from berth.runtime.hooks import has_hooks, hook_state, run_hooks

    if has_hooks(spec, *stages):
        run_hooks(spec, stages, hook_state(spec, cid, bundle, pid, status), strict)


def start(c: Container) -> None:
    status = c.status()
    if status != "created":
        what = "an already running container" if status == "running" else "a container that has stopped"
        raise RuntimeFailure(f"cannot start {what}")
    fd = os.open(c.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready and os.read(fd, 1):
                break
            if not c.alive():
                raise RuntimeFailure("cannot start a container that has stopped")
    finally:
        os.close(fd)
    os.unlink(c.fifo)
    spec = c.data.get("config") or {}
    _hooks(spec, ("poststart",), c.id, c.data.get("bundle", ""), c.pid, "running", strict=False)


def destroy(c: Container) -> None:
    cgroups = Cgroups.from_state(c.data.get("cgroups") or {})
    if cgroups.frozen():
        cgroups.signal_all(signal.SIGKILL)
        cgroups.freeze(False)
    if c.alive():
        try:
            os.kill(c.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    cgroups.kill_and_wait()
    cgroups.destroy()
    c.remove()


def run(root: str, cid: str, opts: dict[str, Any]) -> int:
    if not opts.get("detach"):
        become_subreaper()
        if not opts.get("console-socket") and _wants_tty(opts):
            from berth.runtime.ttyproxy import TtyProxy

            opts["tty-proxy"] = TtyProxy()
    c = create(root, cid, opts)
    try:
        start(c)
    except BaseException:
        destroy(c)
        raise
    if opts.get("detach"):
        return 0
    if opts.get("tty-proxy") is not None:
        opts["tty-proxy"].serve()
    code = wait_for(c.pid)
    if not opts.get("keep"):
        destroy(c)
        spec = c.data.get("config") or {}
        _hooks(spec, ("poststop",), cid, c.data.get("bundle", ""), c.pid, "stopped", strict=False)
    return code


def _wants_tty(opts: dict[str, Any]) -> bool:
    spec = load_spec(os.path.abspath(opts.get("bundle") or "."))
    return bool((spec.get("process") or {}).get("terminal"))


def parse_signal(text: str) -> int:
    if text.isdigit():
        return int(text)
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise RuntimeFailure(f"unknown signal {text!r}") from None


def kill(c: Container, sig: int, all_procs: bool) -> None:
    status = c.status()
    if status == "stopped" and not all_procs:
        raise RuntimeFailure("container not running")
    if all_procs:
        Cgroups.from_state(c.data.get("cgroups") or {}).signal_all(sig)
        if status == "stopped":
            return
    try:
        os.kill(c.pid, sig)
    except ProcessLookupError:
        if not all_procs:
            raise RuntimeFailure("container not running") from None


def pause(c: Container, on: bool) -> None:
    status = c.status()
    if on and status != "running":
        raise RuntimeFailure("container not running")
    if not on and status != "paused":
        raise RuntimeFailure("container not paused")
    Cgroups.from_state(c.data.get("cgroups") or {}).freeze(on)


_UPDATE_FLAGS = {
    "memory": ("memory", "limit"), "memory-swap": ("memory", "swap"),
    "memory-reservation": ("memory", "reservation"), "cpu-shares": ("cpu", "shares"),
    "cpu-quota": ("cpu", "quota"), "cpu-period": ("cpu", "period"), "cpuset-cpus": ("cpu", "cpus"),
    "cpuset-mems": ("cpu", "mems"), "pids-limit": ("pids", "limit"),
}  # fmt: skip


def update(c: Container, opts: dict[str, Any]) -> None:
    """New resource limits from -r FILE (OCI linux.resources JSON, `-` = stdin) and/or runc's flags."""
    res: dict[str, Any] = {}
    if opts.get("resources"):
        path = opts["resources"]
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path) as f:
                text = f.read()
        res = jsonc.loads(text)
    for flag, (group, key) in _UPDATE_FLAGS.items():
        if opts.get(flag) is not None:
            value = opts[flag]
            res.setdefault(group, {})[key] = value if key in ("cpus", "mems") else int(value)
    if c.status() == "stopped":
        raise RuntimeFailure("container not running")
    Cgroups.from_state(c.data.get("cgroups") or {}).apply(res)


def delete(root: str, cid: str, force: bool) -> None:
    c = Container(root, cid)
    if not c.exists():
        if force:
            c.remove()
            return
        raise RuntimeFailure(f"container {cid} does not exist")
    c.load()
    status = c.status()
    if status in ("running", "paused") and not force:
        raise RuntimeFailure(f"cannot delete container {cid} that is not stopped: {status}")
    destroy(c)
    spec = c.data.get("config") or {}
    _hooks(spec, ("poststop",), cid, c.data.get("bundle", ""), c.pid, "stopped", strict=False)


def delete_if_quick(root: str, cid: str) -> bool:
    """`delete --force` of a container whose processes are all gone and that has no poststop hook: nothing to
    kill, wait for or run. False, having done nothing that matters, when the full `delete` is needed."""
    c = Container(root, cid)
    if not c.exists():
        return False
    c.load()
    if ((c.data.get("config") or {}).get("hooks") or {}).get("poststop") or c.alive():
        return False
    if not Cgroups.from_state(c.data.get("cgroups") or {}).remove_if_empty():
        return False
    c.remove()
    return True


def list_containers(root: str, opts: dict[str, Any]) -> None:
    items = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        c = Container(root, name)
        if c.exists():
            items.append(c.load().oci_state())
    if opts.get("quiet"):
        for s in items:
            print(s["id"])
    elif opts.get("format") == "json":
        print(jsonc.dumps(items))
    else:
        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        rows += [[s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], "root"] for s in items]
        widths = [max(12, *(len(r[i]) + 3 for r in rows)) for i in range(6)]
        for r in rows:
            print("".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=False)) + r[-1])


def dispatch(root: str, cmd: str, opts: dict[str, Any], args: list[str]) -> int:
    """Run `cmd`; returns the exit status."""
    if cmd == "list":
        list_containers(root, opts)
        return 0
    cid = _one_id(args, cmd)
    if cmd == "create":
        create(root, cid, opts)
    elif cmd == "run":
        return run(root, cid, opts)
    elif cmd == "start":
        start(Container(root, cid).load())
    elif cmd == "state":
        import json

        print(json.dumps(Container(root, cid).load().oci_state(), indent=2))
    elif cmd == "kill":
        kill(
            Container(root, cid).load(),
            parse_signal(args[1] if len(args) > 1 else "TERM"),
            bool(opts.get("all")),
        )
    elif cmd == "ps":
        pids = Cgroups.from_state(Container(root, cid).load().data.get("cgroups") or {}).pids()
        print(jsonc.dumps(pids) if opts.get("format") == "json" else "\n".join(["PID", *map(str, pids)]))
    elif cmd == "update":
        update(Container(root, cid).load(), opts)
    elif cmd in ("pause", "resume"):
        pause(Container(root, cid).load(), cmd == "pause")
    elif cmd == "delete":
        delete(root, cid, bool(opts.get("force")))
    elif cmd == "exec":
        from berth.runtime import execcmd

        return execcmd.exec_process(Container(root, cid).load(), opts, args[1:])
    sys.stdout.flush()
    return 0
