"""The container record: state transitions, inspect and list shapes, persistence round trip."""

from __future__ import annotations

import json

import pytest

from berth import errdefs
from berth.daemon.containers.model import TRANSITIONS, Container, State, entrypoint_and_args
from berth.util.timefmt import ZERO_TIME

CID = "4f" * 32
NS = 1_000_000_000
T0 = 1_700_000_000 * NS


def make(**kw: object) -> Container:
    args: dict[str, object] = {
        "cid": CID, "name": "web", "image": "busybox", "image_id": "sha256:" + "ab" * 32,
        "config": {"Cmd": ["sh", "-c", "echo hi"], "Labels": {"a": "1"}},
        "host_config": {"NetworkMode": "default"}, "root": "/var/lib/berth/containers/" + CID, "created": T0,
    }
    args.update(kw)
    return Container.new(**args)  # type: ignore[arg-type]


def test_new_fills_hostname_and_bridge_mode() -> None:
    c = make()
    assert c.config["Hostname"] == CID[:12]
    assert c.host_config["NetworkMode"] == "bridge"
    assert c.state == State.CREATED


def test_host_network_uses_host_hostname() -> None:
    c = make(host_config={"NetworkMode": "host"}, host_hostname="myhost")
    assert c.config["Hostname"] == "myhost"


def test_given_hostname_kept() -> None:
    assert make(config={"Cmd": ["true"], "Hostname": "box"}).config["Hostname"] == "box"


def test_transition_table_allows_lifecycle() -> None:
    c = make()
    c.mark_running(42, T0 + NS)
    assert (c.state, c.pid, c.running) == (State.RUNNING, 42, True)
    c.mark_paused(True)
    assert c.state == State.PAUSED
    assert c.running
    c.mark_paused(False)
    c.mark_exited(3, T0 + 5 * NS)
    assert (c.state, c.pid, c.exit_code, c.running) == (State.EXITED, 0, 3, False)
    c.mark_running(43, T0 + 6 * NS)
    assert c.exit_code == 0
    c.mark_exited(0, T0 + 7 * NS)
    c.state = State.REMOVING
    assert c.state == State.REMOVING


def test_invalid_transition_is_a_conflict() -> None:
    c = make()
    with pytest.raises(errdefs.Conflict):
        c.state = State.PAUSED
    c.state = State.DEAD
    with pytest.raises(errdefs.Conflict):
        c.state = State.RUNNING


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(State)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ('exec: "nope": executable file not found in $PATH', 127),
        ("open /x: no such file or directory", 127),
        ("exec /bin/x: permission denied", 126),
        ("something else", 128),
    ],
)
def test_start_failure_keeps_state_and_sets_code(message: str, code: int) -> None:
    c = make()
    c.mark_start_failed(message)
    assert (c.state, c.exit_code, c.error) == (State.CREATED, code, message)


def test_entrypoint_and_args() -> None:
    assert entrypoint_and_args({"Entrypoint": ["/e", "x"], "Cmd": ["y"]}) == ("/e", ["x", "y"])
    assert entrypoint_and_args({"Entrypoint": None, "Cmd": ["sh"]}) == ("sh", [])
    assert entrypoint_and_args({}) == ("", [])


def test_inspect_shape() -> None:
    c = make(host_config={"NetworkMode": "bridge", "Binds": ["/srv:/data:ro"]})
    out = c.to_inspect()
    assert out["Id"] == CID
    assert out["Created"] == "2023-11-14T22:13:20Z"
    assert (out["Path"], out["Args"]) == ("sh", ["-c", "echo hi"])
    assert out["Name"] == "/web"
    assert out["State"] == {
        "Status": "created", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
        "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "", "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME,
    }
    assert out["LogPath"] == f"/var/lib/berth/containers/{CID}/{CID}-json.log"
    assert out["HostsPath"].endswith("/hosts")
    assert out["ResolvConfPath"].endswith("/resolv.conf")
    assert out["HostnamePath"].endswith("/hostname")
    labels = (out["Driver"], out["Platform"], out["MountLabel"], out["ProcessLabel"])
    assert labels == ("overlay2", "linux", "", "")
    assert out["Image"] == "sha256:" + "ab" * 32
    assert out["ExecIDs"] is None
    assert out["Mounts"] == [{"Type": "bind", "Source": "/srv", "Destination": "/data", "Mode": "ro",
                              "RW": False, "Propagation": "rprivate"}]
    ns = out["NetworkSettings"]
    for key in ("SandboxID", "SandboxKey", "Ports", "Networks", "IPAddress", "Gateway", "MacAddress"):
        assert key in ns
    json.dumps(out)


def test_inspect_running_times() -> None:
    c = make()
    c.mark_running(7, T0 + 1_500_000_000)
    st = c.to_inspect()["State"]
    assert st["Running"]
    assert st["Pid"] == 7
    assert st["StartedAt"] == "2023-11-14T22:13:21.5Z"


def test_summary() -> None:
    c = make()
    s = c.to_summary(now=T0 / NS + 10)
    assert s["Names"] == ["/web"]
    assert s["Command"] == "sh -c 'echo hi'"
    assert s["Created"] == 1_700_000_000
    assert s["State"] == "created"
    assert s["Status"] == "Created"
    assert s["HostConfig"] == {"NetworkMode": "bridge"}
    assert s["Labels"] == {"a": "1"}
    assert s["Ports"] == []
    assert s["Mounts"] == []
    assert s["NetworkSettings"] == {"Networks": {}}


def test_status_texts() -> None:
    c = make()
    c.mark_running(1, T0)
    assert c.status_text(T0 / NS + 125) == "Up 2 minutes"
    c.mark_paused(True)
    assert c.status_text(T0 / NS + 125) == "Up 2 minutes (Paused)"
    c.mark_paused(False)
    c.mark_exited(0, T0 + 200 * NS)
    assert c.status_text(T0 / NS + 203) == "Exited (0) 3 seconds ago"
    c.state = State.REMOVING
    assert c.status_text() == "Removal In Progress"
    c.state = State.DEAD
    assert c.status_text() == "Dead"


def test_json_round_trip() -> None:
    c = make()
    c.mark_running(9, T0 + 123)
    c.mark_exited(137, T0 + 456, oom_killed=True)
    c.restart_count = 2
    data = json.loads(json.dumps(c.to_json()))
    back = Container.from_json(data, root=c.root)
    assert back.to_inspect() == c.to_inspect()
    assert back.state == State.EXITED
    assert back.exit_code == 137
    assert back.oom_killed


def test_exec_ids_are_not_kept_across_a_daemon_restart() -> None:
    """Exec instances live in the daemon's memory (as in dockerd): a reloaded record lists none."""
    c = make()
    c.exec_ids.append("e1")
    assert c.to_inspect()["ExecIDs"] == ["e1"]
    back = Container.from_json(json.loads(json.dumps(c.to_json())), root=c.root)
    assert back.to_inspect()["ExecIDs"] is None


def test_mounts_from_api_mounts() -> None:
    c = make(host_config={"Mounts": [
        {"Type": "bind", "Source": "/s", "Target": "/t", "ReadOnly": True},
        {"Type": "volume", "Source": "v", "Target": "/v"},
        {"Type": "tmpfs", "Target": "/tmp"},
    ], "Binds": ["named:/n:ro"]})
    assert c.to_inspect()["Mounts"] == [
        {"Type": "volume", "Name": "named", "Source": "/var/lib/berth/volumes/named/_data", "Driver": "local",
         "Destination": "/n", "Mode": "ro", "RW": False, "Propagation": ""},
        {"Type": "bind", "Source": "/s", "Destination": "/t", "Mode": "", "RW": False,
         "Propagation": "rprivate"},
        {"Type": "volume", "Name": "v", "Source": "/var/lib/berth/volumes/v/_data", "Destination": "/v",
         "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""},
        {"Type": "tmpfs", "Source": "", "Destination": "/tmp", "Mode": "", "RW": True, "Propagation": ""},
    ]


def test_new_fills_dockerd_host_config_defaults() -> None:
    hc = make().host_config
    assert hc["IpcMode"] == "private"
    assert hc["ShmSize"] == 64 * 1024 * 1024
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    kept = make(host_config={"IpcMode": "host", "RestartPolicy": {"Name": "always"}}).host_config
    assert kept["IpcMode"] == "host"
    assert "ShmSize" not in kept
    assert kept["RestartPolicy"] == {"Name": "always"}
