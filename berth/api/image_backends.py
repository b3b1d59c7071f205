"""Protocol the image routes need from the daemon (moby's backend.go style); ImagesService satisfies it."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, Iterable
from typing import Any, Protocol

__all__ = ["ImagesBackend"]


class ImagesBackend(Protocol):
    async def import_stream(self, chunks: AsyncIterable[bytes], repo: str = "", tag: str = "",
                            changes: Iterable[str] = (), message: str = "") -> str: ...
    def list(
        self, filters: dict[str, builtins.list[str]] | None = None, all_: bool = False
    ) -> builtins.list[dict[str, Any]]: ...
    def inspect(self, ref_or_id: str) -> dict[str, Any]: ...
    def history(self, ref_or_id: str) -> builtins.list[dict[str, Any]]: ...
    def tag(self, source: str, repo: str, tag: str = "") -> str: ...
    def delete(
        self, ref_or_id: str, force: bool = False, prune: bool = True
    ) -> builtins.list[dict[str, str]]: ...
    def prune(self, filters: dict[str, builtins.list[str]] | None = None) -> dict[str, Any]: ...
