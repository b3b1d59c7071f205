"""--userns-remap id ranges: /etc/subuid parsing, allocation for `default`, and the IdMap arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth import errdefs
from berth.daemon import userns
from berth.util.idmap import IdMap, IdRange, UnmappableId


def test_ranges_are_laid_end_to_end(tmp_path: Path) -> None:
    sub = tmp_path / "subuid"
    sub.write_text("other:100000:65536\nroot:200000:1000\n0:300000:5000\nbad line\n")
    gid = tmp_path / "subgid"
    gid.write_text("root:400000:65536\n")
    m = userns.resolve("root", str(sub), str(gid))
    assert m.uids == (IdRange(0, 200000, 1000), IdRange(1000, 300000, 5000))
    assert m.host_uid(999) == 200999
    assert m.host_uid(1000) == 300000
    assert m.root_gid == 400000
    with pytest.raises(UnmappableId, match="Container ID 6000 cannot be mapped to a host ID"):
        m.host_uid(6000)
    assert m.container_uid(300001) == 1001
    assert m.container_uid(5) == 65534


def test_missing_ranges_and_users_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "none"
    with pytest.raises(errdefs.InvalidParameter, match='no subuid ranges found for user "root"'):
        userns.resolve("root", str(empty), str(empty))
    with pytest.raises(errdefs.InvalidParameter, match="user 'no-such-user-x' does not exist"):
        userns.resolve("no-such-user-x", str(empty), str(empty))


def test_default_allocates_the_first_free_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(userns, "_ensure_default_user", lambda: None)
    monkeypatch.setattr(userns, "DEFAULT_USER", "root")
    sub, gid = tmp_path / "subuid", tmp_path / "subgid"
    sub.write_text("alice:100000:65536\nbob:165536:65536")
    m = userns.resolve("default", str(sub), str(gid))
    assert m.uids == (IdRange(0, 231072, 65536),)
    assert m.gids == (IdRange(0, 100000, 65536),)
    assert sub.read_text().splitlines()[-1] == "root:231072:65536"
    assert userns.resolve("default", str(sub), str(gid)) == m  # idempotent


def test_idmap_text_form_round_trips() -> None:
    m = IdMap((IdRange(0, 5, 10), IdRange(10, 100, 2)), (IdRange(0, 7, 3),))
    assert IdMap.decode(m.encode()) == m
    assert m.spec()["uidMappings"][1] == {"containerID": 10, "hostID": 100, "size": 2}
    for bad in ("u:0:1:0;g:0:1:1", "u:0:1:1", "x:0:1:1;g:0:1:1"):
        with pytest.raises(ValueError):
            IdMap.decode(bad)
