"""--device in the spec: moby's error texts, directories expanded, permissions carried into the rules."""

from __future__ import annotations

import errno

import pytest

from berth import errdefs
from berth.daemon.containers.spec_linux import DeviceStat, custom_devices, stat_device


def _missing(path: str) -> DeviceStat:
    raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)


def test_missing_device_is_mobys_text() -> None:
    with pytest.raises(errdefs.InvalidParameter) as exc:
        custom_devices([{"PathOnHost": "/nonexistent"}], _missing)
    assert str(exc.value) == (
        'error gathering device information while adding custom device "/nonexistent": no such file or directory'
    )


def test_not_a_device_node() -> None:
    with pytest.raises(errdefs.InvalidParameter, match="not a device node"):
        custom_devices([{"PathOnHost": "/etc/hostname"}], stat_device)


def test_node_and_rule_with_permissions() -> None:
    nodes, rules = custom_devices(
        [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/f", "CgroupPermissions": "r"}],
        lambda p: ("c", 10, 229, 0o600, 0, 0),
    )
    assert nodes == [{"path": "/dev/f", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 0,
                      "gid": 0}]
    assert rules == [{"allow": True, "type": "c", "major": 10, "minor": 229, "access": "r"}]


def test_bad_permissions() -> None:
    with pytest.raises(errdefs.InvalidParameter, match="invalid device cgroup permissions: rx"):
        custom_devices([{"PathOnHost": "/dev/null", "CgroupPermissions": "rx"}], stat_device)


def test_device_cgroup_rules() -> None:
    from berth.daemon.containers.spec_linux import device_cgroup_rules

    assert device_cgroup_rules(["c 1:3 rwm", "b *:* m", "c 7:* r"]) == [
        {"allow": True, "type": "c", "access": "rwm", "major": 1, "minor": 3},
        {"allow": True, "type": "b", "access": "m"},
        {"allow": True, "type": "c", "access": "r", "major": 7},
    ]
    with pytest.raises(errdefs.InvalidParameter, match="invalid device cgroup rule format: 'x 1:3 rwm'"):
        device_cgroup_rules(["x 1:3 rwm"])
    assert device_cgroup_rules(["a"]) == device_cgroup_rules(["a *:* rwm"]) == [
        {"allow": True, "type": "a", "access": "rwm"}]
    with pytest.raises(errdefs.InvalidParameter, match="partially ineffective: 'a 1:3 m'"):
        device_cgroup_rules(["a 1:3 m"])
