"""Resolving Docker's `User` against layered /etc/passwd and /etc/group."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth import errdefs
from berth.daemon.containers.users import ResolvedUser, find_file, read_layered, resolve

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
# a comment
broken line
app:x:1000:1000:App:/home/app:/bin/sh
"""
GROUP = """root:x:0:
wheel:x:10:root
staff:x:50:app,other
app:x:1000:
audio:x:29:
"""


def layer(root: Path, name: str, files: dict[str, str]) -> str:
    d = root / name
    d.mkdir()
    for rel, text in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return str(d)


@pytest.fixture
def image(tmp_path: Path) -> list[str]:
    """An empty upper dir over a lower layer holding passwd and group."""
    upper = layer(tmp_path, "upper", {})
    lower = layer(tmp_path, "lower", {"etc/passwd": PASSWD, "etc/group": GROUP})
    return [upper, lower]


def test_empty_user_is_root_with_its_groups(image: list[str]) -> None:
    assert resolve("", image) == ResolvedUser(0, 0, (0, 10), "/root")


def test_name(image: list[str]) -> None:
    assert resolve("app", image) == ResolvedUser(1000, 1000, (1000, 50), "/home/app")


def test_uid_found_in_passwd(image: list[str]) -> None:
    assert resolve("1000", image) == ResolvedUser(1000, 1000, (1000, 50), "/home/app")


def test_unknown_uid_works_without_entry(image: list[str]) -> None:
    assert resolve("4242", image) == ResolvedUser(4242, 0, (0,), "/")


def test_numeric_user_without_passwd_file(tmp_path: Path) -> None:
    empty = [layer(tmp_path, "only", {})]
    assert resolve("5:6", empty) == ResolvedUser(5, 6, (6,), "/")


def test_unknown_name_is_docker_error(image: list[str]) -> None:
    with pytest.raises(errdefs.InvalidParameter) as info:
        resolve("nobody", image)
    assert str(info.value) == "unable to find user nobody: no matching entries in passwd file"


def test_explicit_group_name_drops_memberships(image: list[str]) -> None:
    assert resolve("app:audio", image) == ResolvedUser(1000, 29, (29,), "/home/app")


def test_explicit_gid(image: list[str]) -> None:
    assert resolve("daemon:77", image) == ResolvedUser(1, 77, (77,), "/usr/sbin")


def test_unknown_group_name(image: list[str]) -> None:
    with pytest.raises(errdefs.InvalidParameter) as info:
        resolve("app:nogroup", image)
    assert str(info.value) == "unable to find group nogroup: no matching entries in group file"


def test_group_add_by_name_and_number(image: list[str]) -> None:
    u = resolve("app", image, ["audio", "1234", "staff"])
    assert u.additional_gids == (1000, 50, 29, 1234)


def test_group_add_unknown_name(image: list[str]) -> None:
    with pytest.raises(errdefs.InvalidParameter, match="Unable to find group video"):
        resolve("", image, ["video"])


def test_out_of_range_uid(image: list[str]) -> None:
    with pytest.raises(errdefs.InvalidParameter, match="range"):
        resolve("99999999999", image)


def test_upper_layer_wins(tmp_path: Path) -> None:
    upper = layer(tmp_path, "upper", {"etc/passwd": "root:x:0:0::/home/boss:/bin/sh\n"})
    lower = layer(tmp_path, "lower", {"etc/passwd": PASSWD, "etc/group": GROUP})
    u = resolve("", [upper, lower])
    assert u.home == "/home/boss"
    assert u.additional_gids == (0, 10)  # group still comes from the lower layer


def test_whiteout_file_hides_lower(tmp_path: Path) -> None:
    upper = layer(tmp_path, "upper", {"etc/.wh.passwd": ""})
    lower = layer(tmp_path, "lower", {"etc/passwd": PASSWD})
    assert read_layered([upper, lower], "/etc/passwd") is None
    with pytest.raises(errdefs.InvalidParameter):
        resolve("app", [upper, lower])


def test_opaque_dir_hides_lower(tmp_path: Path) -> None:
    upper = layer(tmp_path, "upper", {"etc/.wh..wh..opq": "", "etc/group": GROUP})
    lower = layer(tmp_path, "lower", {"etc/passwd": PASSWD})
    assert find_file([upper, lower], "etc/passwd") is None
    assert find_file([upper, lower], "etc/group") == os.path.join(upper, "etc/group")


def test_symlink_resolved_inside_layers(tmp_path: Path) -> None:
    upper = layer(tmp_path, "upper", {})
    lower = layer(tmp_path, "lower", {"data/passwd": PASSWD})
    os.makedirs(os.path.join(upper, "etc"))
    os.symlink("../data/passwd", os.path.join(upper, "etc", "passwd"))
    assert resolve("app", [upper, lower]).uid == 1000


def test_absolute_symlink_stays_in_layers(tmp_path: Path) -> None:
    outside = tmp_path / "host-passwd"
    outside.write_text("evil:x:0:0::/:/bin/sh\n")
    top = layer(tmp_path, "top", {})
    os.makedirs(os.path.join(top, "etc"))
    os.symlink(str(outside), os.path.join(top, "etc", "passwd"))
    assert read_layered([top], "/etc/passwd") is None
    with pytest.raises(errdefs.InvalidParameter):
        resolve("evil", [top])


def test_dotdot_symlink_cannot_escape(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("evil:x:0:0::/:/bin/sh\n")
    top = layer(tmp_path, "top", {})
    os.symlink("../../../../etc", os.path.join(top, "etc"))
    assert read_layered([top], "/etc/passwd") is None


def test_symlinked_directory_in_lower_layer(tmp_path: Path) -> None:
    upper = layer(tmp_path, "upper", {})
    lower = layer(tmp_path, "lower", {"real/etc/passwd": PASSWD})
    os.symlink("/real/etc", os.path.join(lower, "etc"))
    assert resolve("daemon", [upper, lower]).home == "/usr/sbin"


def test_symlink_loop_gives_up(tmp_path: Path) -> None:
    top = layer(tmp_path, "top", {})
    os.makedirs(os.path.join(top, "etc"))
    os.symlink("passwd", os.path.join(top, "etc", "passwd"))
    assert read_layered([top], "/etc/passwd") is None


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    top = layer(tmp_path, "top", {"etc/passwd/x": ""})
    assert read_layered([top], "/etc/passwd") is None


@pytest.mark.privileged
def test_char_device_whiteout_hides_lower(tmp_path: Path) -> None:
    upper = layer(tmp_path, "upper", {})
    lower = layer(tmp_path, "lower", {"etc/passwd": PASSWD})
    os.makedirs(os.path.join(upper, "etc"))
    os.mknod(os.path.join(upper, "etc", "passwd"), 0o600 | 0o020000, os.makedev(0, 0))
    assert read_layered([upper, lower], "/etc/passwd") is None


@pytest.mark.privileged
def test_opaque_xattr_hides_lower(tmp_path: Path) -> None:
    upper = layer(tmp_path, "upper", {"etc/group": GROUP})
    lower = layer(tmp_path, "lower", {"etc/passwd": PASSWD})
    os.setxattr(os.path.join(upper, "etc"), "trusted.overlay.opaque", b"y")
    assert read_layered([upper, lower], "/etc/passwd") is None
    assert read_layered([upper, lower], "/etc/group") == GROUP


def test_result_unpacks_as_a_tuple(image: list[str]) -> None:
    uid, gid, groups, home = resolve("daemon", image)
    assert (uid, gid, groups, home) == (1, 1, (1,), "/usr/sbin")
