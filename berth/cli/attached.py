"""What run, start, attach and exec share once attached: the session on the hijacked stream, the tty check."""

from __future__ import annotations

import os

from berth.cli.pflag import StatusError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from berth.cli.main import Cli
    from berth.client.http import Response

__all__ = ["attached_session", "need_tty"]


def attached_session(cli: Cli, cid: str, resp: Response, tty: bool, stdin: bool, sig_proxy: bool,
                     keys: str | None, resize_path: str) -> bool:
    """Run the session on `resp` (hijacked) to its end or a detach; True when the user detached."""
    from berth.cli.session import Session, forward_signals, parse_detach_keys, watch_resize  # `run -d` needs none

    try:
        detach = parse_detach_keys(keys or "ctrl-p,ctrl-q")
    except ValueError as exc:
        raise StatusError(1, str(exc)) from None
    session = Session(resp, tty, stdin, detach)
    with watch_resize(cli.client, resize_path) if tty else forward_signals(cli.client, cid, enabled=sig_proxy):
        try:
            detached = session.run()
        finally:
            resp.close()
    if detached:
        cli.err("read escape sequence\n")
    return detached


def need_tty(tty: bool, interactive: bool) -> None:
    """docker's refusal of -it when stdin is no terminal."""
    if tty and interactive and not os.isatty(0):
        raise StatusError(1, "the input device is not a TTY")
