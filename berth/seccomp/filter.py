"""A compiled seccomp filter (seccomp layer): what the runtime hands to the kernel. Imports nothing."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.kernel.seccomp import Program

__all__ = ["Filter"]


class Filter:
    """The sock_filter bytes and the seccomp(2) flags to load them with; `loadable` is the program already in
    C memory, where the runtime built it before forking the processes that load it."""

    __slots__ = ("flags", "loadable", "program")

    def __init__(self, program: bytes, flags: int) -> None:
        self.program, self.flags = program, flags
        self.loadable: Program | None = None

    def __len__(self) -> int:
        return len(self.program) // 8
