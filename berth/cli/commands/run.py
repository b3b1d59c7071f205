"""Commands that create or attach to containers: run, create, start, attach."""

from __future__ import annotations

import sys

from berth.cli.attached import attached_session, need_tty
from berth.cli.pflag import Command, StatusError
from berth.cli.runopts import OptionError, container_flags, create_request
from berth.client import APIError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Cli
    from berth.client.http import Response

RUN = container_flags(Command("run", "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]",
                              "Create and run a new container from an image", interspersed=False,
                              min_args=1), run=True)
CREATE = container_flags(Command("create", "berth create [OPTIONS] IMAGE [COMMAND] [ARG...]",
                                 "Create a new container", interspersed=False, min_args=1), run=False)


def _daemon_error(cmd: str, exc: APIError, status: int = 125) -> StatusError:
    return StatusError(status, f"berth: {exc}\n\nRun 'berth {cmd} --help' for more information")


def _start_status(message: str) -> int:
    """docker run's exit status for a failed start: 127 not found, 126 cannot execute, else 125."""
    if any(s in message for s in ("executable file not found", "no such file or directory",
                                  "system cannot find the file specified")):
        return 127
    if "permission denied" in message:
        return 126
    return 125


def _terminal_size() -> tuple[int, int] | None:
    from berth.cli.session import terminal_size  # imported when used: `run -d` and `create` need no session

    return terminal_size()


def _create(cli: Cli, cmd: str, ns: Any, run: bool) -> str:
    try:
        query, body = create_request(ns, run, _terminal_size() if ns.tty else None)
    except OptionError as exc:
        if exc.flag:
            message = f'invalid argument "{exc.value}" for "{exc.flag}" flag: {exc}'
            raise (RUN if run else CREATE).flag_error(message) from None
        raise StatusError(125, f"berth: {exc}\n\nRun 'berth {cmd} --help' for more information") from None
    policy = ns.pull or "missing"
    if policy == "always":
        _pull(cli, cmd, ns.args[0], ns.quiet)
    try:
        created = cli.client.post("/containers/create", body, **query)
    except APIError as exc:
        if exc.status != 404 or "No such image" not in exc.message or policy == "never":
            raise _daemon_error(cmd, exc) from None
        ref = ns.args[0]
        if ":" not in ref.rsplit("/", 1)[-1] and "@" not in ref:
            ref += ":latest"
        cli.err(f"Unable to find image '{ref}' locally\n")
        _pull(cli, cmd, ns.args[0], ns.quiet)
        try:
            created = cli.client.post("/containers/create", body, **query)
        except APIError as exc2:
            raise _daemon_error(cmd, exc2) from None
    for warning in created.get("Warnings") or []:
        cli.err(f"WARNING: {warning}\n")
    cid = str(created["Id"])
    if ns.cidfile:
        with open(ns.cidfile, "x", encoding="utf-8") as f:
            f.write(cid)
    return cid


def _pull(cli: Cli, cmd: str, ref: str, quiet: bool) -> None:
    from berth.cli.commands.image import pull_image
    out = sys.stdout
    sys.stdout = sys.stderr  # docker writes run's pull progress to stderr
    try:
        pull_image(cli, ref, quiet, announce=False)
    except APIError as exc:
        raise _daemon_error(cmd, exc) from None
    finally:
        sys.stdout = out


def create(cli: Cli, argv: list[str]) -> int:
    ns = CREATE.parse(argv)
    cli.out(_create(cli, "create", ns, run=False) + "\n")
    return 0


def _attach(cli: Cli, cid: str, stdin: bool, stdout: bool = True, stderr: bool = True,
            keys: str | None = None, logs: bool = False) -> Response:
    query = {"stream": 1, "stdin": stdin or None, "stdout": stdout or None, "stderr": stderr or None,
             "detachKeys": keys, "logs": logs or None}
    return cli.client.hijack(f"/containers/{cid}/attach", query)


def _wait_status(wait: Response) -> int:
    try:
        body = wait.json() or {}
    finally:
        wait.close()
    error = body.get("Error") or {}
    if error.get("Message"):
        sys.stderr.write(f"{error['Message']}\n")
    return int(body.get("StatusCode", 0))


def run(cli: Cli, argv: list[str]) -> int:
    ns = RUN.parse(argv)
    need_tty(ns.tty and not ns.detach, ns.interactive)
    cid = _create(cli, "run", ns, run=True)
    attach = {s.lower() for s in ns.attach} if ns.attach else {"stdout", "stderr"}
    stdin = ns.interactive and (not ns.attach or "stdin" in attach)
    if ns.detach:
        _start(cli, cid, None, cli.client.stream("POST", f"/containers/{cid}/wait",
                                                   {"condition": "removed" if ns.rm else "next-exit"}))
        cli.out(cid + "\n")
        return 0
    from berth.cli.session import forward_signals

    try:
        resp = _attach(cli, cid, stdin, "stdout" in attach, "stderr" in attach, ns.detach_keys)
    except APIError as exc:
        raise _daemon_error("run", exc) from None
    wait = cli.client.stream("POST", f"/containers/{cid}/wait",
                             {"condition": "removed" if ns.rm else "next-exit"})
    with forward_signals(cli.client, cid, enabled=ns.sig_proxy and not ns.tty):
        _start(cli, cid, resp, wait)
        return _finish(cli, cid, resp, wait, ns.tty, stdin, ns.detach_keys)


def _start(cli: Cli, cid: str, resp: Response | None, wait: Response, cmd: str = "run") -> None:
    try:
        cli.client.post(f"/containers/{cid}/start")
    except APIError as exc:
        if resp is not None:
            resp.close()
        wait.close()
        if cmd != "run":
            raise
        raise _daemon_error("run", exc, _start_status(exc.message)) from None
    if resp is None:
        wait.close()


def _finish(cli: Cli, cid: str, resp: Response, wait: Response, tty: bool, stdin: bool,
            keys: str | None) -> int:
    """After start: resize, stream the session, then the exit status from the wait answer."""
    from berth.cli.session import resize

    if tty:
        resize(cli.client, f"/containers/{cid}/resize", retries=10)
    if attached_session(cli, cid, resp, tty, stdin, False, keys, f"/containers/{cid}/resize"):
        wait.close()
        return 0
    return _wait_status(wait)


START = (Command("start", "berth start [OPTIONS] CONTAINER [CONTAINER...]",
                 "Start one or more stopped containers", min_args=1)
         .flag("-a, --attach", help="Attach STDOUT/STDERR and forward signals")
         .flag("--detach-keys", "value", help="Override the key sequence for detaching a container")
         .flag("-i, --interactive", help="Attach container's STDIN"))


def start(cli: Cli, argv: list[str]) -> int:
    ns = START.parse(argv)
    if not (ns.attach or ns.interactive):
        from berth.cli.commands.container import for_each
        failed: list[str] = []

        def start_one(name: str) -> None:
            try:
                cli.client.post(f"/containers/{name}/start")
            except APIError:
                failed.append(name)
                raise
        for_each(cli, ns.args, start_one)
        if failed:
            raise StatusError(1, f"Error: failed to start containers: {', '.join(failed)}")
        return 0
    from berth.cli.session import forward_signals

    if len(ns.args) > 1:
        raise StatusError(1, "you cannot start and attach multiple containers at once")
    info = cli.client.get(f"/containers/{ns.args[0]}/json")
    cid, config = info["Id"], info.get("Config") or {}
    tty = bool(config.get("Tty"))
    stdin = ns.interactive and bool(config.get("OpenStdin"))
    resp = _attach(cli, cid, stdin, keys=ns.detach_keys)
    auto_remove = bool((info.get("HostConfig") or {}).get("AutoRemove"))
    wait = cli.client.stream("POST", f"/containers/{cid}/wait",
                             {"condition": "removed" if auto_remove else "next-exit"})
    with forward_signals(cli.client, cid, enabled=not tty):
        _start(cli, cid, resp, wait, cmd="start")
        return _finish(cli, cid, resp, wait, tty, stdin, ns.detach_keys)


ATTACH = (Command("attach", "berth attach [OPTIONS] CONTAINER",
                  "Attach local standard input, output, and error streams to a running container",
                  min_args=1, max_args=1)
          .flag("--detach-keys", "value", help="Override the key sequence for detaching a container")
          .flag("--no-stdin", help="Do not attach STDIN")
          .flag("--sig-proxy", default=True, help="Proxy all received signals to the process"))


def attach(cli: Cli, argv: list[str]) -> int:
    from berth.cli.session import resize

    ns = ATTACH.parse(argv)
    info = cli.client.get(f"/containers/{ns.args[0]}/json")
    state = info.get("State") or {}
    if not state.get("Running"):
        raise StatusError(1, "You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise StatusError(1, "You cannot attach to a paused container, unpause it first")
    cid, config = info["Id"], info.get("Config") or {}
    tty = bool(config.get("Tty"))
    stdin = not ns.no_stdin and bool(config.get("OpenStdin"))
    wait = cli.client.stream("POST", f"/containers/{cid}/wait")
    resp = _attach(cli, cid, stdin, keys=ns.detach_keys)
    if tty:
        resize(cli.client, f"/containers/{cid}/resize")
    if attached_session(cli, cid, resp, tty, stdin, ns.sig_proxy, ns.detach_keys, f"/containers/{cid}/resize"):
        wait.close()
        return 0
    return _wait_status(wait)
