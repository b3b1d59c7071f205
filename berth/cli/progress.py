"""docker's jsonmessage display: pull/import/load progress, one line per layer id on a terminal."""

from __future__ import annotations

from collections.abc import Callable

from berth.cli.pflag import StatusError

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Progress"]


def _has_bar(msg: dict[str, Any]) -> bool:
    detail = msg.get("progressDetail") or {}
    return bool((detail.get("current") or 0) > 0 or (detail.get("total") or 0) > 0)


class Progress:
    """Render a stream of JSON messages like DisplayJSONMessagesStream."""

    def __init__(self, write: Callable[[str], object], terminal: bool) -> None:
        self.write = write
        self.terminal = terminal
        self.ids: dict[str, int] = {}

    def show(self, msg: dict[str, Any]) -> None:
        """Print one message; an in-band error ends the command with its code."""
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            raise StatusError(int(detail.get("code") or 1), str(msg.get("error") or detail.get("message")))
        lid = str(msg.get("id") or "")
        diff = 0
        if self.terminal and lid and ("progressDetail" in msg or msg.get("progress")):
            if lid not in self.ids:
                self.ids[lid] = len(self.ids)
                self.write("\n")
            diff = len(self.ids) - self.ids[lid]
            self.write(f"\x1b[{diff}A")
        elif self.terminal:
            self.ids = {}
        self._line(msg, lid)
        if diff:
            self.write(f"\x1b[{diff}B")

    def _line(self, msg: dict[str, Any], lid: str) -> None:
        bar = "progressDetail" in msg and (_has_bar(msg) or msg.get("progress"))
        endl = ""
        if self.terminal and "stream" not in msg and "progressDetail" in msg:
            endl = "\r"
            self.write("\x1b[2K\r")
        elif bar:
            return
        prefix = f"{lid}: " if lid else ""
        if msg.get("from"):
            prefix += f"(from {msg['from']}) "
        status = str(msg.get("status") or "")
        if msg.get("progress") and (self.terminal or not bar):
            self.write(f"{prefix}{status} {msg['progress']}{endl}")
        elif "stream" in msg:
            self.write(f"{prefix}{msg['stream']}{endl}")
        else:
            self.write(f"{prefix}{status}{endl}\n")
