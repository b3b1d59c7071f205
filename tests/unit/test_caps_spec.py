"""Capabilities in the spec (docker's TweakCapabilities and texts) and the daemon's grantable limits."""

from __future__ import annotations

import pytest

from berth import errdefs
from berth.daemon.containers.spec import KNOWN_CAPS
from berth.daemon.containers.spec_linux import (
    DEFAULT_CAPS,
    all_capabilities,
    check_rlimits_grantable,
    normalize_caps,
    tweak_capabilities,
)


def test_names_with_or_without_prefix_any_case() -> None:
    assert normalize_caps(["net_admin", "CAP_sys_time", "all"], "CapAdd", KNOWN_CAPS) == [
        "CAP_NET_ADMIN", "CAP_SYS_TIME", "ALL"]


def test_unknown_capability_is_dockers_text() -> None:
    with pytest.raises(errdefs.InvalidParameter) as exc:
        normalize_caps(["foo"], "CapDrop", KNOWN_CAPS)
    assert str(exc.value) == 'invalid CapDrop: unknown capability: "CAP_FOO"'


def test_tweak() -> None:
    assert tweak_capabilities([], [], False, KNOWN_CAPS) == list(DEFAULT_CAPS)
    assert tweak_capabilities(["ALL"], ["chown"], False, KNOWN_CAPS) == [c for c in KNOWN_CAPS if c != "CAP_CHOWN"]
    assert tweak_capabilities(["net_raw"], ["ALL"], False, KNOWN_CAPS) == ["CAP_NET_RAW"]
    assert tweak_capabilities([], ["ALL"], True, ["CAP_CHOWN"]) == ["CAP_CHOWN"]  # privileged: all we hold


def test_privileged_set_follows_the_daemons_bounding_set() -> None:
    no_sys_resource = (1 << 41) - 1 & ~(1 << 24)
    caps = all_capabilities(no_sys_resource)
    assert "CAP_SYS_RESOURCE" not in caps
    assert len(caps) == 40


def test_ulimit_above_what_the_daemon_can_grant() -> None:
    limits = {"nofile": 20000, "nproc": None}
    check_rlimits_grantable([{"Name": "nofile", "Soft": 1, "Hard": 20000}, {"Name": "nproc", "Soft": -1, "Hard": -1}],
                            limits.get)
    with pytest.raises(errdefs.InvalidParameter, match=r"ulimit nofile: hard limit 20001 is above .* \(20000\)"):
        check_rlimits_grantable([{"Name": "nofile", "Soft": 1, "Hard": 20001}], limits.get)
    with pytest.raises(errdefs.InvalidParameter):
        check_rlimits_grantable([{"Name": "nofile", "Soft": -1, "Hard": -1}], limits.get)
