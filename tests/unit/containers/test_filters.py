"""`docker ps` and `container prune` filters."""

from __future__ import annotations

import pytest

from berth import errdefs
from berth.daemon.containers.filters import prune_matcher, select
from berth.daemon.containers.model import Container, State

NS = 1_000_000_000
IMG_A = "sha256:" + "aa" * 32
IMG_B = "sha256:" + "bb" * 32


def make(n: int, name: str, state: State, *, image: str = "busybox", image_id: str = IMG_A,
         labels: dict[str, str] | None = None, code: int = 0, **hc: object) -> Container:
    c = Container.new(cid=f"{n:x}" * 64 if n < 16 else f"{n:02x}" * 32, name=name, image=image,
                      image_id=image_id, config={"Cmd": ["sh"], "Labels": labels or {},
                                                 "ExposedPorts": {"80/tcp": {}} if n == 2 else {}},
                      host_config=dict(hc), root="/x", created=(1000 + n) * NS)
    if state != State.CREATED:
        c.mark_running(100 + n, (1000 + n) * NS)
        if state == State.EXITED:
            c.mark_exited(code, (1001 + n) * NS)
        elif state == State.PAUSED:
            c.mark_paused(True)
    return c


@pytest.fixture
def pool() -> list[Container]:
    return [
        make(1, "web", State.RUNNING, labels={"app": "web", "tier": "front"}),
        make(2, "db", State.EXITED, code=1, labels={"app": "db"}, image="postgres:16", image_id=IMG_B),
        make(3, "cache", State.EXITED, code=0, Binds=["/srv/c:/data"]),
        make(4, "fresh", State.CREATED, labels={"tier": "front"}),
        make(5, "sleepy", State.PAUSED, NetworkMode="host"),
    ]


def names(cs: list[Container]) -> list[str]:
    return [c.name for c in cs]


def test_default_shows_running_newest_first(pool: list[Container]) -> None:
    assert names(select(pool)) == ["sleepy", "web"]


def test_all(pool: list[Container]) -> None:
    assert names(select(pool, all_=True)) == ["sleepy", "fresh", "cache", "db", "web"]


def test_last_n_includes_stopped(pool: list[Container]) -> None:
    assert names(select(pool, limit=2)) == ["sleepy", "fresh"]


def test_name_is_a_regex_search(pool: list[Container]) -> None:
    assert names(select(pool, {"name": ["e"]}, all_=True)) == ["sleepy", "fresh", "cache", "web"]
    assert names(select(pool, {"name": ["^/d"]}, all_=True)) == ["db"]
    assert names(select(pool, {"name": ["web", "db"]}, all_=True)) == ["db", "web"]


def test_id_prefix(pool: list[Container]) -> None:
    assert names(select(pool, {"id": ["3333"]}, all_=True)) == ["cache"]


def test_labels_are_anded(pool: list[Container]) -> None:
    assert names(select(pool, {"label": ["tier"]}, all_=True)) == ["fresh", "web"]
    assert names(select(pool, {"label": ["tier=front", "app=web"]}, all_=True)) == ["web"]
    assert names(select(pool, {"label": ["app=nope"]}, all_=True)) == []


def test_status_implies_all(pool: list[Container]) -> None:
    assert names(select(pool, {"status": ["exited"]})) == ["cache", "db"]
    assert names(select(pool, {"status": ["paused", "created"]})) == ["sleepy", "fresh"]


def test_bad_status(pool: list[Container]) -> None:
    with pytest.raises(errdefs.InvalidParameter) as info:
        select(pool, {"status": ["sleeping"]})
    assert str(info.value) == "Invalid filter 'status=sleeping'"


def test_exited(pool: list[Container]) -> None:
    assert names(select(pool, {"exited": ["0"]}, all_=True)) == ["cache"]
    assert names(select(pool, {"exited": ["0"]})) == []
    with pytest.raises(errdefs.InvalidParameter, match="Invalid filter 'exited=x'"):
        select(pool, {"exited": ["x"]})


def test_unknown_filter(pool: list[Container]) -> None:
    with pytest.raises(errdefs.InvalidParameter) as info:
        select(pool, {"foo": ["bar"]})
    assert str(info.value) == "invalid filter 'foo'"


def test_before_and_since(pool: list[Container]) -> None:
    assert names(select(pool, {"before": ["cache"]})) == ["db", "web"]
    assert names(select(pool, {"since": ["cache"]})) == ["sleepy", "fresh"]
    assert names(select(pool, {"since": ["db"], "before": ["sleepy"]})) == ["fresh", "cache"]
    with pytest.raises(errdefs.NotFound, match="No such container: ghost"):
        select(pool, {"before": ["ghost"]})


def test_ancestor_without_resolver(pool: list[Container]) -> None:
    assert names(select(pool, {"ancestor": ["postgres:16"]}, all_=True)) == ["db"]
    assert names(select(pool, {"ancestor": ["busybox:latest"]}, all_=True)) == [
        "sleepy", "fresh", "cache", "web"]
    assert names(select(pool, {"ancestor": ["bbbb"]}, all_=True)) == ["db"]
    assert names(select(pool, {"ancestor": ["nothing"]}, all_=True)) == []


def test_ancestor_with_resolver(pool: list[Container]) -> None:
    def resolve(ref: str) -> set[str]:
        return {IMG_A, IMG_B} if ref == "base" else set()

    assert len(select(pool, {"ancestor": ["base"]}, all_=True, image_matches=resolve)) == 5
    assert select(pool, {"ancestor": ["busybox"]}, all_=True, image_matches=resolve) == []


def test_network_volume_expose(pool: list[Container]) -> None:
    assert names(select(pool, {"network": ["host"]}, all_=True)) == ["sleepy"]
    assert names(select(pool, {"volume": ["/data"]}, all_=True)) == ["cache"]
    assert names(select(pool, {"volume": ["/srv/c"]}, all_=True)) == ["cache"]
    assert names(select(pool, {"expose": ["80"]}, all_=True)) == ["db"]


def test_combined_filters_and_limit(pool: list[Container]) -> None:
    assert names(select(pool, {"label": ["tier"], "status": ["running"]})) == ["web"]
    assert names(select(pool, {"name": ["e"]}, all_=True, limit=2)) == ["sleepy", "fresh"]


def test_prune_matcher(pool: list[Container]) -> None:
    assert [c.name for c in pool if prune_matcher({})(c)] == names(pool)
    m = prune_matcher({"label": ["tier=front"]})
    assert [c.name for c in pool if m(c)] == ["web", "fresh"]
    m = prune_matcher({"label!": ["app"]})
    assert [c.name for c in pool if m(c)] == ["cache", "fresh", "sleepy"]
    m = prune_matcher({"until": ["1003"]})
    assert [c.name for c in pool if m(c)] == ["web", "db"]
    m = prune_matcher({"until": ["1m"]}, now=1003 + 60)
    assert [c.name for c in pool if m(c)] == ["web", "db"]


def test_prune_bad_filters() -> None:
    with pytest.raises(errdefs.InvalidParameter, match="invalid filter 'status'"):
        prune_matcher({"status": ["exited"]})
    with pytest.raises(errdefs.InvalidParameter):
        prune_matcher({"until": ["yesterday-ish"]})
