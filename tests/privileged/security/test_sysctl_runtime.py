"""berth-runtime refuses sysctls that would reach the host, with runc's texts, like runc."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.privileged

CASES = [
    ("kernel.panic", "1", None, 'sysctl "kernel.panic" is not in a separate kernel namespace'),
    ("net.ipv4.ip_forward", "1", ["mount", "uts", "pid", "ipc"],
     'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
    ("kernel.shmmax", "100000", ["mount", "network", "uts", "pid"],
     'sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace'),
]


@pytest.mark.parametrize(("key", "value", "namespaces", "text"), CASES, ids=[c[0] for c in CASES])
def test_refused_like_runc(make_bundle: Any, runtime: Any, runc: Any, key: str, value: str,
                           namespaces: list[str] | None, text: str) -> None:
    for name, rt in (("berth", runtime), ("runc", runc)):
        b = make_bundle(f"sysctl-{name}-{key.replace('.', '-')}")
        over: dict[str, Any] = {"sysctl": {key: value}}
        if namespaces is not None:
            over["namespaces"] = [{"type": t} for t in namespaces]
        b.write_config(["true"], **over)
        rt.ids.append(b.id)
        res = rt("run", "--bundle", str(b.path), b.id, check=False)
        assert res.returncode != 0
        assert text in res.stderr.replace('\\"', '"'), (name, res.stderr)  # runc's log escapes quotes


def test_namespaced_sysctls_are_set(make_bundle: Any, runtime: Any) -> None:
    b = make_bundle("sysctl-ok")
    b.write_config(["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax"],
                   sysctl={"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456"})
    runtime.ids.append(b.id)
    assert runtime("run", "--bundle", str(b.path), b.id).stdout.split() == ["1", "123456"]
