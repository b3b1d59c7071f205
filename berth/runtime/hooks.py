"""OCI hooks (runtime layer): run `hooks.<stage>` entries with the container state on stdin.

Only os primitives (fork, execve, pipes) so that hooks can run inside the container after pivot_root:
  createRuntime/prestart  runtime side, while init waits before pivot_root (sync "hooks")
  createContainer         init, in the container's namespaces, before pivot_root
  startContainer          init, after `start`, just before execve
  poststart               `start`, after the process was released;  poststop  `delete`, at the end
"""

from __future__ import annotations

import os
import signal
import time

from berth.runtime import jsonc
from berth.runtime.errors import RuntimeFailure

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up milliseconds
if TYPE_CHECKING:
    from typing import Any

__all__ = ["hook_state", "run_hooks"]


def hook_state(spec: dict[str, Any], cid: str, bundle: str, pid: int, status: str) -> dict[str, Any]:
    """The state document a hook reads on stdin (runtime-spec runtime.md)."""
    return {
        "ociVersion": spec.get("ociVersion") or "1.0.2",
        "id": cid,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": spec.get("annotations") or {},
    }


def _run_one(hook: dict[str, Any], state: bytes) -> None:
    path = str(hook["path"])
    args = [str(a) for a in hook.get("args") or [path]]
    env = dict(str(e).partition("=")[::2] for e in hook.get("env") or [])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(r, 0)
            os.execve(path, args, env)
        finally:
            os._exit(127)
    os.close(r)
    try:
        os.write(w, state)
    except BrokenPipeError:
        pass
    os.close(w)
    timeout = hook.get("timeout")
    deadline = time.monotonic() + float(timeout) if timeout else None
    while True:
        got, status = os.waitpid(pid, os.WNOHANG if deadline else 0)
        if got:
            break
        if deadline and time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise RuntimeFailure(f"hook {path} timed out after {timeout}s")
        time.sleep(0.002)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeFailure(f"hook {path} failed with exit status {code}")


def run_hooks(spec: dict[str, Any], stages: tuple[str, ...], state: dict[str, Any], strict: bool = True) -> None:
    """Run every hook of `stages` in order; the first failure raises unless `strict` is False."""
    hooks = spec.get("hooks") or {}
    data = jsonc.dumps(state).encode()
    for stage in stages:
        for hook in hooks.get(stage) or []:
            try:
                _run_one(hook, data)
            except (RuntimeFailure, OSError):
                if strict:
                    raise


def has_hooks(spec: dict[str, Any], *stages: str) -> bool:
    """True when the config lists a hook for one of `stages`."""
    hooks = spec.get("hooks") or {}
    return any(hooks.get(s) for s in stages)
