"""Event bus (daemon layer): publish, filtered subscriptions and a ring buffer for since/until replay."""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from berth import errdefs

__all__ = ["EVENT_FILTERS", "EventBus", "EventFilter", "Subscription", "make_message"]

log = logging.getLogger(__name__)

EVENT_FILTERS = frozenset(
    {
        "config",
        "container",
        "daemon",
        "event",
        "image",
        "label",
        "network",
        "node",
        "plugin",
        "scope",
        "secret",
        "service",
        "type",
        "volume",
    }
)
_FUZZY_ACTIONS = frozenset({"health_status", "exec_create", "exec_start"})
_QUEUE_LIMIT = 4096


def make_message(
    type_: str, action: str, actor_id: str, attributes: Mapping[str, str], scope: str, time_ns: int
) -> dict[str, Any]:
    """The wire shape of an event (API 1.44: legacy status/id/from kept for containers and images)."""
    msg: dict[str, Any] = {}
    if type_ in ("container", "image"):
        msg["status"] = action
        msg["id"] = actor_id
        if type_ == "container" and attributes.get("image"):
            msg["from"] = attributes["image"]
    msg.update(
        {
            "Type": type_,
            "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(attributes)},
            "scope": scope,
            "time": time_ns // 1_000_000_000,
            "timeNano": time_ns,
        }
    )
    return msg


def _strip_tag(image: str) -> str:
    name, _, tail = image.rpartition(":")
    return name if name and "/" not in tail else image


def _within(msg: Mapping[str, Any], since_ns: int | None, until_ns: int | None) -> bool:
    t: int = msg["timeNano"]
    return (since_ns is None or t >= since_ns) and (until_ns is None or t <= until_ns)


class EventFilter:
    """moby's events filter: every given key must match (values of one key are OR-ed)."""

    def __init__(self, filters: Mapping[str, list[str]]) -> None:
        for key in filters:
            if key not in EVENT_FILTERS:
                raise errdefs.InvalidParameter(f"invalid filter '{key}'")
        self.f = {k: list(v) for k, v in filters.items() if v}

    def _any(self, key: str, *candidates: str) -> bool:
        values = self.f.get(key)
        return values is None or any(c and c in values for c in candidates)

    def _event(self, action: str) -> bool:
        values = self.f.get("event")
        if values is None:
            return True
        if action in values:
            return True
        fuzzy = [v for v in values if v in _FUZZY_ACTIONS]
        return any(action.startswith(v) for v in fuzzy)

    def _labels(self, attrs: Mapping[str, str]) -> bool:
        for want in self.f.get("label", []):
            key, eq, value = want.partition("=")
            if key not in attrs or (eq and attrs[key] != value):
                return False
        return True

    def _typed(self, key: str, type_: str, msg_type: str, *candidates: str) -> bool:
        if key not in self.f:
            return True
        return msg_type == type_ and self._any(key, *candidates)

    def __call__(self, msg: Mapping[str, Any]) -> bool:
        type_ = msg["Type"]
        actor_id = msg["Actor"]["ID"]
        attrs: Mapping[str, str] = msg["Actor"]["Attributes"]
        name = attrs.get("name", "")
        image = attrs.get("image", "") if type_ == "container" else actor_id if type_ == "image" else ""
        return (
            self._any("type", type_)
            and self._event(msg["Action"])
            and self._any("scope", msg.get("scope", "local"))
            and self._typed("container", "container", type_, actor_id, name)
            and self._typed("daemon", "daemon", type_, actor_id, name)
            and self._typed("network", "network", type_, actor_id, name)
            and self._typed("volume", "volume", type_, actor_id)
            and self._typed("plugin", "plugin", type_, actor_id, name)
            and ("image" not in self.f or self._any("image", image, _strip_tag(image), name))
            and self._labels(attrs)
        )


class Subscription:
    """A live feed of matching events; iterate it or `await get()`; `close()` when done."""

    def __init__(self, bus: EventBus, match: EventFilter, until_ns: int | None) -> None:
        self._bus = bus
        self.match = match
        self.until_ns = until_ns
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE_LIMIT)

    def _offer(self, msg: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            log.warning("event subscriber too slow; dropped %s %s", msg["Type"], msg["Action"])

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Keeps the last `capacity` events and fans new ones out to subscribers (thread-safe publish)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._ring: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()

    def publish(
        self,
        type_: str,
        action: str,
        actor_id: str,
        attributes: Mapping[str, str] | None = None,
        scope: str = "local",
    ) -> dict[str, Any]:
        msg = make_message(type_, action, actor_id, attributes or {}, scope, time.time_ns())
        with self._lock:
            self._ring.append(msg)
            subs = [s for s in self._subs if s.match(msg)]
        for sub in subs:
            self._deliver(sub, msg)
        return msg

    @staticmethod
    def _deliver(sub: Subscription, msg: dict[str, Any]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is sub.loop:
            sub._offer(msg)
        elif not sub.loop.is_closed():
            sub.loop.call_soon_threadsafe(sub._offer, msg)

    def history(
        self,
        filters: Mapping[str, list[str]] | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> list[dict[str, Any]]:
        """Buffered events with since <= time <= until that match the filters, oldest first."""
        match = EventFilter(filters or {})
        with self._lock:
            ring = list(self._ring)
        return [m for m in ring if _within(m, since_ns, until_ns) and match(m)]

    def subscribe(
        self,
        filters: Mapping[str, list[str]] | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
    ) -> tuple[list[dict[str, Any]], Subscription]:
        """Atomically: the replay (buffered events since `since_ns`, or none) and a live subscription."""
        match = EventFilter(filters or {})
        sub = Subscription(self, match, until_ns)
        with self._lock:
            ring = list(self._ring) if since_ns is not None else []
            self._subs.append(sub)
        replay = [m for m in ring if _within(m, since_ns, until_ns) and match(m)]
        return replay, sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def listener_count(self) -> int:
        with self._lock:
            return len(self._subs)
