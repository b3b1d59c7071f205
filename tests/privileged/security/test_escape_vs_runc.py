"""The escape battery at runtime level: a config.json from the daemon's spec generator, run by berth-runtime
and by Debian's runc on the same bundle; both give the same answers, default and privileged."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from berth.daemon.containers import spec as spec_mod
from berth.daemon.containers import spec_linux as lx
from berth.daemon.containers.users import ResolvedUser
from tests.e2e.security import probe
from tests.privileged.runtime.conftest import CGROUP_PARENT

pytestmark = pytest.mark.privileged


@pytest.fixture(scope="module")
def probe_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    return probe.build(str(tmp_path_factory.mktemp("probe")))


def _write_spec(bundle: Any, tmp: Path, probe_bin: str, privileged: bool) -> None:
    etc = {}
    for name, text in (("hosts", "127.0.0.1 localhost\n"), ("hostname", "ctr\n"), ("resolv.conf", "")):
        path = tmp / f"{bundle.id}-{name}"
        path.write_text(text)
        etc[f"/etc/{name}"] = str(path)
    hc = {"Privileged": privileged, "NetworkMode": "bridge"}
    script = probe.script(os.getpid()) + "; grep Cap /proc/1/status"
    cfg = {"Cmd": ["sh", "-c", script], "Hostname": "ctr"}
    spec: dict[str, Any] = spec_mod.build_spec(
        cfg, hc, user=ResolvedUser(0, 0, (0,), "/root"), rootfs=str(bundle.rootfs),
        cgroups_path=f"{CGROUP_PARENT}/{bundle.id}", etc_files=etc, known_caps=lx.all_capabilities(),
        host_devices=lx.host_devices() if privileged else (),
    )
    spec["mounts"].append({"destination": "/probe", "type": "bind", "source": probe_bin, "options": ["bind", "ro"]})
    (bundle.path / "config.json").write_text(json.dumps(spec))


@pytest.mark.parametrize("privileged", [False, True], ids=["default", "privileged"])
def test_same_answers_as_runc(make_bundle: Any, runtime: Any, runc: Any, probe_bin: str, tmp_path: Path,
                              privileged: bool) -> None:
    answers = {}
    for name, rt in (("berth", runtime), ("runc", runc)):
        b = make_bundle(f"esc-{'p' if privileged else 'd'}-{name}")
        _write_spec(b, tmp_path, probe_bin, privileged)
        rt.ids.append(b.id)
        res = rt("run", "--bundle", str(b.path), b.id, timeout=60)
        caps = {line.split(":")[0]: line.split()[1] for line in res.stdout.splitlines() if line.startswith("Cap")}
        answers[name] = {**probe.parse(res.stdout), **caps}
    expect = probe.PRIVILEGED_EXPECT if privileged else probe.cap_only_expect()
    for key, allowed in expect.items():
        assert answers["berth"].get(key) in allowed, (key, answers["berth"])
    assert answers["berth"]["CapEff"] == ("00000000a80425fb" if not privileged else answers["berth"]["CapBnd"])
    assert answers["berth"] == answers["runc"]
