"""Docker seccomp profiles: decoding errors with dockerd's texts, and resolution like moby's setupSeccomp."""

from __future__ import annotations

import json
from typing import Any

import pytest

from berth.seccomp.default import CLONE_NS_FLAGS, default_profile
from berth.seccomp.profile import ProfileError, kernel_version, load_profile, resolve

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
               "CAP_KILL", "CAP_AUDIT_WRITE"]


def rules_for(oci: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r for r in oci["syscalls"] if name in r["names"]]


def allowed_plain(oci: dict[str, Any]) -> set[str]:
    return {n for r in oci["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for n in r["names"]}


@pytest.mark.parametrize(("text", "message"), [
    ("{", "Decoding seccomp profile failed: unexpected end of JSON input"),
    ("", "Decoding seccomp profile failed: unexpected end of JSON input"),
    ("nope", "Decoding seccomp profile failed: invalid character 'n' looking for beginning of value"),
    ('{"defaultAction": 1}', "Decoding seccomp profile failed: json: cannot unmarshal number into Go struct field "
                             "Seccomp.defaultAction of type specs.LinuxSeccompAction"),
    ('{"syscalls": {}}', "Decoding seccomp profile failed: json: cannot unmarshal object into Go struct field "
                         "Seccomp.syscalls of type []*seccomp.Syscall"),
    ('{"syscalls": [{"names": "read"}]}', "Decoding seccomp profile failed: json: cannot unmarshal string into Go "
                                          "struct field Syscall.syscalls.names of type []string"),
    ('{"syscalls": [{"errnoRet": -1}]}', "Decoding seccomp profile failed: json: cannot unmarshal number -1 into Go "
                                         "struct field Syscall.syscalls.errnoRet of type uint"),
    ('{"syscalls": [{"args": [{"index": "0"}]}]}', "Decoding seccomp profile failed: json: cannot unmarshal string "
     "into Go struct field LinuxSeccompArg.syscalls.args.index of type uint"),
    ('{"syscalls": [{"includes": {"minKernel": "4"}}]}',
     'Decoding seccomp profile failed: invalid kernel version: "4", expected "<kernel>.<major>"'),
    ('{"syscalls": [{"includes": {"minKernel": "0.0"}}]}',
     'Decoding seccomp profile failed: invalid kernel version: "0.0", expected "<kernel>.<major>": '
     "version cannot be 0.0"),
])
def test_decode_errors_have_dockers_texts(text: str, message: str) -> None:
    with pytest.raises(ProfileError) as exc:
        load_profile(text)
    assert str(exc.value) == message


def test_decode_follows_go_json_rules() -> None:
    got = load_profile('{"DefaultAction": "SCMP_ACT_ALLOW", "unknown": 1, "defaultErrnoRet": null, '
                       '"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "comment": "x", '
                       '"includes": {"minKernel": "5.10"}}, null]}')
    assert got == {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "comment": "x", "includes": {"minKernel": (5, 10)}}]}
    assert load_profile("null") == {}


def test_resolve_refuses_what_moby_refuses() -> None:
    with pytest.raises(ProfileError, match="both 'architectures' and 'archMap' are specified"):
        resolve({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                 "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}, [])
    with pytest.raises(ProfileError, match="both 'name' and 'names' are specified"):
        resolve({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "x"}]}, [])


def test_empty_profile_means_no_filter() -> None:
    assert resolve({}, DOCKER_CAPS) is None
    assert resolve(load_profile("{}"), DOCKER_CAPS) is None


def test_default_profile_for_dockers_capabilities() -> None:
    oci = resolve(default_profile(), DOCKER_CAPS, kernel=(6, 1))
    assert oci is not None
    assert oci["defaultAction"] == "SCMP_ACT_ERRNO"
    assert oci["defaultErrnoRet"] == 1
    assert oci["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = allowed_plain(oci)
    assert {"read", "write", "mkdir", "chroot", "arch_prctl", "modify_ldt", "ptrace"} <= allowed
    for name in ("unshare", "mount", "setns", "bpf", "perf_event_open", "keyctl", "reboot", "kexec_load",
                 "swapon", "settimeofday", "syslog", "s390_runtime_instr", "cacheflush", "open_by_handle_at"):
        assert name not in allowed, name
    assert rules_for(oci, "clone") == [{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": CLONE_NS_FLAGS, "op": "SCMP_CMP_MASKED_EQ"}]}]
    assert rules_for(oci, "clone3") == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    assert rules_for(oci, "socket")[0]["args"] == [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]
    assert sorted(r["args"][0]["value"] for r in rules_for(oci, "personality")) == [0, 8, 0x20000, 0x20008,
                                                                                    0xFFFFFFFF]


def test_capabilities_unlock_their_groups() -> None:
    caps = [*DOCKER_CAPS, "CAP_SYS_ADMIN", "CAP_SYS_TIME", "CAP_SYS_PTRACE", "CAP_BPF"]
    oci = resolve(default_profile(), caps, kernel=(6, 1))
    assert oci is not None
    allowed = allowed_plain(oci)
    assert {"unshare", "mount", "setns", "clone", "clone3", "bpf", "settimeofday", "kcmp", "pidfd_getfd"} <= allowed
    assert not [r for r in rules_for(oci, "clone") if r.get("args")]  # the flag check is for non-admins only
    assert not [r for r in rules_for(oci, "clone3") if r["action"] == "SCMP_ACT_ERRNO"]


def test_min_kernel_and_arches() -> None:
    old = resolve(default_profile(), DOCKER_CAPS, kernel=(4, 4))
    assert old is not None
    assert "ptrace" not in allowed_plain(old)
    s390 = resolve(default_profile(), DOCKER_CAPS, arch="s390x", kernel=(6, 1))
    assert s390 is not None
    assert "architectures" not in s390
    assert [r["args"][0]["index"] for r in rules_for(s390, "clone")] == [1]
    assert "s390_runtime_instr" in allowed_plain(s390)
    assert "arch_prctl" not in allowed_plain(s390)


def test_custom_profile_keeps_order_fields_and_flags() -> None:
    prof = load_profile(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                     {"names": ["chown"], "action": "SCMP_ACT_LOG", "excludes": {"caps": ["CAP_CHOWN"]}}],
    }))
    assert resolve(prof, []) == {
        "defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"], "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                     {"names": ["chown"], "action": "SCMP_ACT_LOG"}]}
    assert len(resolve(prof, ["CAP_CHOWN"])["syscalls"]) == 1  # type: ignore[index]


def test_kernel_version_parsing() -> None:
    assert kernel_version("6.18.44-fc-v657") == (6, 18)
    assert kernel_version("4.8.0") == (4, 8)
    with pytest.raises(ProfileError):
        kernel_version("garbage")
