"""A compiled seccomp filter (seccomp layer): what the runtime hands to the kernel. Imports nothing."""

from __future__ import annotations

__all__ = ["Filter"]


class Filter:
    """The sock_filter bytes and the seccomp(2) flags to load them with."""

    __slots__ = ("flags", "program")

    def __init__(self, program: bytes, flags: int) -> None:
        self.program, self.flags = program, flags

    def __len__(self) -> int:
        return len(self.program) // 8
