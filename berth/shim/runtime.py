"""Runs the OCI runtime's commands for the shim (shim layer): spawn, wait, report its error text."""

from __future__ import annotations

import os

from berth.shim import inproc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.runtime.execjoin import ExecTarget, Held
    from berth.runtime.execspare import Prepared, Spare

__all__ = ["Runtime", "RuntimeError_"]

# Python ignores SIGPIPE and SIGXFSZ; the runtime and the container must start with the defaults.
# (_signal: the constants without the `signal` module, which loads `enum`.)
_signal = __import__("_signal")
_DEFAULT_SIGNALS: tuple[int, ...] = (_signal.SIGPIPE, _signal.SIGXFSZ)


class RuntimeError_(Exception):
    """The runtime exited non-zero; the message is its error, `detail` all it wrote."""

    def __init__(self, msg: str, detail: str = "") -> None:
        super().__init__(msg)
        self.detail = detail


class Runtime:
    """`argv` is the runtime command with its global options, e.g. ["runc", "--root", "/run/x"].

    Berth's own runtime (`PYTHON -m berth.runtime ...`) runs in a forked child instead of a new interpreter.
    """

    __slots__ = ("argv", "errfile", "own_args")

    def __init__(self, argv: list[str], errfile: str) -> None:
        self.argv = argv
        self.errfile = errfile
        self.own_args = inproc.own_runtime_args(argv)
        if self.own_args is not None:
            inproc.preload()

    def exec_target(self, cid: str) -> ExecTarget | None:
        """Berth's own runtime only: what a process exec'd in running container `cid` joins, for `exec_in`."""
        if self.own_args is None:
            return None
        try:
            return inproc.exec_target(self.own_args, cid)
        except (inproc.RuntimeFailure, OSError, ValueError, KeyError) as e:
            raise RuntimeError_(str(e)) from None

    def delete_here(self, cid: str) -> bool:
        """Berth's own runtime only: `delete --force cid` in this process, when nothing in it can block (the
        container's processes are gone, no poststop hook); False when it must run as a command."""
        if self.own_args is None:
            return False
        try:
            return inproc.delete_if_quick(self.own_args, cid)
        except (inproc.RuntimeFailure, OSError, ValueError, KeyError, TypeError):
            return False

    def exec_in(self, target: ExecTarget, process: dict[str, object], stdio: tuple[int, int, int] | None,
                console_path: str | None, held: bool = False) -> Held:
        """Fork `process` into the container (a child of ours, in its namespaces); `launch` then waits for its
        exec. `held`: it waits, set up, before its exec until `launch` lets it go (or `Held.discard` kills it).

        What `exec --detach` does, without a runtime process: the shim forks the process itself."""
        try:
            return inproc.exec_in(target, process, stdio, console_path, held)
        except (inproc.RuntimeFailure, OSError, ValueError, KeyError) as e:
            raise RuntimeError_(str(e)) from None

    def fork_spare(self, target: ExecTarget, expect: dict[str, object] | None = None) -> Spare:
        """A process forked now, outside the container, that starts a later exec in it with less on the exec's
        way than `exec_in`; with `expect`, set up for that process already (berth.runtime.execspare)."""
        try:
            return inproc.fork_spare(target, expect)
        except (inproc.RuntimeFailure, OSError) as e:
            raise RuntimeError_(str(e)) from None

    @staticmethod
    def hand_to_spare(spare: Spare, process: dict[str, object], stdio: tuple[int, int, int]) -> Prepared:
        """Have `spare` join the container for `process`; it waits for its go (`launch`) then."""
        try:
            return spare.prepare(process, stdio)
        except (inproc.RuntimeFailure, OSError) as e:
            raise RuntimeError_(str(e)) from None

    @staticmethod
    def spare_suits(process: dict[str, object], target: ExecTarget | None = None) -> bool:
        """Whether a spare can start `process` (in `target`, as its pids limit stands now); `exec_in` starts the
        others."""
        return inproc.spare_suits(process, target)

    @staticmethod
    def launch(held: Held | Prepared) -> int:
        """Let a process from `exec_in` exec; its pid once it has."""
        try:
            return held.launch()
        except (inproc.RuntimeFailure, OSError) as e:
            raise RuntimeError_(str(e)) from None

    def spawn(self, args: list[str], stdio: tuple[int, int, int]) -> int:
        """Start `runtime args...` with the given stdin/stdout/stderr fds; returns its pid."""
        if self.own_args is not None:
            return inproc.fork_runtime([*self.own_args, *args], stdio)
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(stdio)]
        argv = [*self.argv, *args]
        return os.posix_spawnp(
            argv[0], argv, os.environ, file_actions=actions, setsigdef=_DEFAULT_SIGNALS, setsigmask=()
        )

    def run(self, args: list[str], stdio: tuple[int, int, int] | None = None, err_reader: int = -1) -> None:
        """Run a runtime command to its end; RuntimeError_ with its error text when it fails.

        Without `stdio` the command gets /dev/null for input and output and `errfile` for stderr; with
        `stdio` (pass-through to a container) the error text is read from `err_reader`, the read end of
        the stderr given, when there is one.
        """
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        err = os.open(self.errfile, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            if self.own_args is not None and stdio is None and args[0] in inproc.HERE:
                code = inproc.run_here([*self.own_args, *args], err)
            else:
                pid = self.spawn(args, stdio or (null, null, err))
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
            if code != 0:
                text = _read_error(err_reader) if err_reader >= 0 else ""
                os.lseek(err, 0, os.SEEK_SET)
                text += os.read(err, 65536).decode("utf-8", "replace")
                raise RuntimeError_(last_error(text) or f"runtime {args[0]} exited with {code}", text)
        finally:
            os.close(null)
            os.close(err)


def _read_error(fd: int) -> str:
    try:
        return os.read(fd, 65536).decode("utf-8", "replace")
    except BlockingIOError:
        return ""


def last_error(text: str) -> str:
    """The message worth showing from a runtime's stderr: its last non-empty line, cleaned of log noise."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[-1]
    if line.startswith("time=") and 'msg="' in line:
        line = line.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
    return line
