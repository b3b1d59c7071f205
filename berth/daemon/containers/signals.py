"""Signal names as the Docker API takes them: "TERM", "SIGTERM", "15", "SIGRTMIN+3"."""

from __future__ import annotations

import signal as signals

from berth import errdefs

__all__ = ["parse_signal"]


def parse_signal(value: str | int) -> int:
    """Docker's signal parsing; InvalidParameter with docker's text for an unknown signal."""
    if isinstance(value, int):
        number = value
    else:
        text = value.strip().upper()
        if text.isdigit():
            number = int(text)
        else:
            name = text if text.startswith("SIG") else "SIG" + text
            if name.startswith("SIGRTMIN+") or name.startswith("SIGRTMAX-"):
                base, _, off = name.partition("+") if "+" in name else name.partition("-")
                try:
                    delta = int(off)
                except ValueError:
                    raise errdefs.InvalidParameter(f"Invalid signal: {value}") from None
                number = signals.SIGRTMIN + delta if base == "SIGRTMIN" else signals.SIGRTMAX - delta
            else:
                try:
                    number = int(signals.Signals[name])
                except KeyError:
                    raise errdefs.InvalidParameter(f"Invalid signal: {value}") from None
    if not 0 < number <= int(signals.SIGRTMAX):
        raise errdefs.InvalidParameter(f"Invalid signal: {value}")
    return number
