"""The daemon's seccomp choices (moby's WithSeccomp): default, unconfined, builtin, profiles, privileged,
create-time refusals, and what `spec.build` puts in config.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from berth import errdefs
from berth.daemon.containers import spec, spec_seccomp
from berth.daemon.containers.model import Container
from berth.daemon.containers.users import ResolvedUser
from tests.unit.test_seccomp_profile import DOCKER_CAPS

DENY_MKDIR = json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                         "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})


def seccomp_of(**hc: Any) -> dict[str, Any] | None:
    return spec_seccomp.linux_seccomp(hc, DOCKER_CAPS)


def test_default_profile_unless_told_otherwise() -> None:
    default = seccomp_of()
    assert default is not None
    assert default["defaultAction"] == "SCMP_ACT_ERRNO"
    assert seccomp_of(SecurityOpt=["seccomp=builtin"]) == default
    assert seccomp_of(SecurityOpt=["no-new-privileges"]) == default
    assert seccomp_of(SecurityOpt=["seccomp=unconfined"]) is None
    assert seccomp_of(SecurityOpt=["seccomp:unconfined"]) is None
    assert seccomp_of(Privileged=True) is None


def test_custom_profile_even_when_privileged() -> None:
    want = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    assert seccomp_of(SecurityOpt=[f"seccomp={DENY_MKDIR}"]) == want
    assert seccomp_of(Privileged=True, SecurityOpt=[f"seccomp={DENY_MKDIR}"]) == want  # as moby does


def test_bounding_caps_pick_the_rules() -> None:
    admin = spec_seccomp.linux_seccomp({}, [*DOCKER_CAPS, "CAP_SYS_ADMIN"])
    assert admin is not None
    assert any("unshare" in r["names"] and r["action"] == "SCMP_ACT_ALLOW" for r in admin["syscalls"])
    plain = seccomp_of()
    assert plain is not None
    assert not any("unshare" in r["names"] for r in plain["syscalls"])


@pytest.mark.parametrize(("opt", "message"), [
    ('seccomp={"defaultAction": "SCMP_ACT_NOPE"}', "string SCMP_ACT_NOPE is not a valid action for seccomp"),
    ("seccomp={oops", "Decoding seccomp profile failed: invalid character 'o' looking for beginning of object "
                      "key string"),
    ('seccomp={"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}',
     "string SCMP_ARCH_VAX is not a valid arch for seccomp"),
    ('seccomp={"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", '
     '"args": [{"index": 0, "op": "SCMP_CMP_SORTOF"}]}]}',
     "string SCMP_CMP_SORTOF is not a valid operator for seccomp"),
])
def test_bad_profiles_are_refused_at_create(opt: str, message: str) -> None:
    config = {"Cmd": ["true"]}
    with pytest.raises(errdefs.InvalidParameter) as exc:
        spec.validate(config, {"SecurityOpt": [opt]})
    assert str(exc.value) == message


def test_privileged_builtin_fails_like_moby() -> None:
    with pytest.raises(errdefs.InvalidParameter, match="Decoding seccomp profile failed: invalid character 'b'"):
        spec.validate({"Cmd": ["true"]}, {"Privileged": True, "SecurityOpt": ["seccomp=builtin"]})


def test_good_profiles_pass_create() -> None:
    for opts in ([], ["seccomp=unconfined"], ["seccomp=builtin"], [f"seccomp={DENY_MKDIR}"], ["no-new-privileges"]):
        spec.validate({"Cmd": ["true"]}, {"SecurityOpt": opts})


def test_build_puts_the_profile_in_config_json(tmp_path: Path) -> None:
    def built(hc: dict[str, Any]) -> dict[str, Any]:
        c = Container.new(cid="a" * 64, name="x", image="busybox", image_id="sha256:" + "b" * 64,
                          config={"Cmd": ["true"], "Image": "busybox"}, host_config=hc, root=str(tmp_path))
        return spec.build(c, user=ResolvedUser(0, 0, (0,), "/root"), rootfs=str(tmp_path / "r"),
                          cgroups_path="/berth/x")

    oci = built({"CapAdd": ["SYS_ADMIN"]})
    bounding = oci["process"]["capabilities"]["bounding"]
    assert oci["linux"]["seccomp"] == spec_seccomp.linux_seccomp({}, bounding)
    assert any("mount" in r["names"] for r in oci["linux"]["seccomp"]["syscalls"])
    assert "seccomp" not in built({"SecurityOpt": ["seccomp=unconfined"]})["linux"]
    assert "seccomp" not in built({"Privileged": True})["linux"]
    nnp = built({"SecurityOpt": ["no-new-privileges:true"]})
    assert nnp["process"]["noNewPrivileges"] is True
    assert nnp["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"


@pytest.mark.parametrize(("opt", "nnp"), [("no-new-privileges", True), ("no-new-privileges=1", True),
                                          ("no-new-privileges:True", True), ("no-new-privileges=false", False)])
def test_no_new_privileges_values_like_moby(opt: str, nnp: bool) -> None:
    assert spec.security_options([opt])["no_new_privileges"] is nnp


def test_no_new_privileges_bad_value() -> None:
    with pytest.raises(errdefs.InvalidParameter, match='invalid --security-opt 2: "no-new-privileges=maybe"'):
        spec.security_options(["no-new-privileges=maybe"])
