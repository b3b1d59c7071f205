"""The daemon's event bus: message shape, filters, since/until replay, live delivery."""

from __future__ import annotations

import asyncio

import pytest

from berth import errdefs
from berth.daemon.events import EventBus, EventFilter, make_message


def test_message_keeps_legacy_fields_for_containers_and_images_only() -> None:
    c = make_message("container", "die", "cid", {"image": "busybox", "exitCode": "0"}, "local", 1_500_000_000_123)
    assert (c["status"], c["id"], c["from"]) == ("die", "cid", "busybox")
    assert (c["time"], c["timeNano"]) == (1500, 1_500_000_000_123)
    i = make_message("image", "tag", "sha256:x", {"name": "a:b"}, "local", 1)
    assert (i["status"], i["id"]) == ("tag", "sha256:x")
    assert "from" not in i
    n = make_message("network", "create", "nid", {"name": "n"}, "local", 1)
    assert "status" not in n
    assert "id" not in n


def _msg(type_: str, action: str, actor: str, **attrs: str) -> dict[str, object]:
    return make_message(type_, action, actor, attrs, "local", 1)


def test_filters_match_like_moby() -> None:
    web = _msg("container", "start", "c1", name="web", image="busybox:latest", env="prod")
    assert EventFilter({"container": ["web"]})(web)
    assert EventFilter({"container": ["c1"], "event": ["start", "stop"]})(web)
    assert not EventFilter({"container": ["db"]})(web)
    assert not EventFilter({"type": ["image"]})(web)
    assert EventFilter({"image": ["busybox"]})(web)
    assert EventFilter({"label": ["env=prod"]})(web)
    assert EventFilter({"label": ["env"]})(web)
    assert not EventFilter({"label": ["env=dev"]})(web)
    assert EventFilter({"event": ["exec_create"]})(_msg("container", "exec_create: sh -c x", "c1"))
    assert not EventFilter({"network": ["web"]})(web)
    with pytest.raises(errdefs.InvalidParameter):
        EventFilter({"colour": ["red"]})


def test_since_until_replay_and_live_delivery() -> None:
    async def scenario() -> None:
        bus = EventBus(capacity=3)
        for i in range(5):
            bus.publish("volume", "create", f"v{i}")
        assert [m["Actor"]["ID"] for m in bus.history()] == ["v2", "v3", "v4"]
        t = bus.history()[1]["timeNano"]
        assert [m["Actor"]["ID"] for m in bus.history(since_ns=t)] == ["v3", "v4"]
        assert [m["Actor"]["ID"] for m in bus.history(until_ns=t)] == ["v2", "v3"]
        replay, sub = bus.subscribe({"type": ["container"]}, since_ns=0)
        assert replay == []
        assert bus.listener_count() == 1
        bus.publish("volume", "destroy", "v1")
        bus.publish("container", "create", "c9", {"name": "x"})
        got = await asyncio.wait_for(sub.get(), 5)
        assert got["Actor"]["ID"] == "c9"
        sub.close()
        assert bus.listener_count() == 0

    asyncio.run(scenario())


def test_publish_from_another_thread_reaches_the_loop() -> None:
    async def scenario() -> None:
        bus = EventBus()
        _, sub = bus.subscribe()
        await asyncio.to_thread(bus.publish, "image", "pull", "busybox:latest")
        got = await asyncio.wait_for(sub.get(), 5)
        assert got["Action"] == "pull"
        sub.close()

    asyncio.run(scenario())
