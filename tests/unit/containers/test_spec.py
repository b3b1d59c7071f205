"""The OCI config.json generator against hand-written golden files, and create-time merging and checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from berth import errdefs
from berth.daemon.containers import spec
from berth.daemon.containers.model import Container
from berth.daemon.containers.users import ResolvedUser

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
IMAGE_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ROOT = ResolvedUser(0, 0, (0, 10), "/root")


def etc(cid: str) -> dict[str, str]:
    base = f"/data/containers/{cid}"
    return {"/etc/resolv.conf": f"{base}/resolv.conf", "/etc/hostname": f"{base}/hostname",
            "/etc/hosts": f"{base}/hosts"}


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def build(cid: str, config: dict[str, Any], hc: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("user", ROOT)
    return spec.build_spec(config, hc, rootfs=f"/data/containers/{cid}/bundle/rootfs",
                           cgroups_path=f"/berth/{cid}", etc_files=etc(cid), **kw)


def test_golden_default() -> None:
    config = spec.merge_image_config({"Image": "busybox", "Hostname": "0123456789ab"},
                                     {"Env": [IMAGE_PATH], "Cmd": ["sh"]})
    out = build("c1", config, {"NetworkMode": "bridge"},
                thermal_paths=["/sys/devices/system/cpu/cpu0/thermal_throttle"])
    assert out == golden("spec_default.json")


def test_golden_privileged_host_namespaces() -> None:
    config = {"Hostname": "myhost", "Tty": True, "OpenStdin": True, "Env": ["PATH=/bin", "FOO=bar"],
              "Cmd": ["/bin/sh"], "WorkingDir": "/work", "User": ""}
    hc = {"Privileged": True, "NetworkMode": "host", "IpcMode": "host", "PidMode": "host", "UTSMode": "host",
          "ConsoleSize": [40, 120]}
    sda = {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o660, "uid": 0, "gid": 6}
    out = build("c2", config, hc, user=ResolvedUser(0, 0, (0,), "/root"),
                known_caps=["CAP_CHOWN", "CAP_SYS_ADMIN"], host_devices=[sda],
                seccomp={"defaultAction": "SCMP_ACT_ERRNO"})
    assert out == golden("spec_privileged_host.json")


OPTIONS_HC: dict[str, Any] = {
    "NetworkMode": "none",
    "Binds": ["/srv/data:/data:ro", "/srv/cache:/data/cache", "/host/conf:/etc/app/conf:rshared"],
    "Tmpfs": {"/run": "size=16m,exec", "/tmp": ""},
    "ReadonlyRootfs": True,
    "CapAdd": ["sys_ptrace", "CAP_NET_ADMIN"],
    "CapDrop": ["MKNOD", "net_raw"],
    "ShmSize": 134217728,
    "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 4096}, {"Name": "nproc", "Soft": 100, "Hard": 200}],
    "Init": True,
    "OomScoreAdj": 500,
    "Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000"},
    "Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rw"}],
    "SecurityOpt": ["no-new-privileges"],
    "Memory": 67108864, "MemorySwap": 134217728, "NanoCpus": 1500000000, "PidsLimit": 100, "CpuShares": 512,
    "CgroupnsMode": "private",
}


def test_golden_options() -> None:
    config = {"Hostname": "web", "Domainname": "example.org", "User": "app",
              "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/srv"], "Entrypoint": ["/entry.sh"],
              "Cmd": ["serve", "--port", "80"], "WorkingDir": "/app"}
    spec.validate(config, OPTIONS_HC)
    out = build("c3", config, OPTIONS_HC, user=ResolvedUser(1000, 1000, (1000, 50), "/home/app"),
                init_path="/usr/libexec/berth/docker-init", seccomp={"defaultAction": "SCMP_ACT_ERRNO"},
                stat_device=lambda path: ("c", 10, 229, 0o666, 0, 0))
    assert out == golden("spec_options.json")


# -- merge_image_config ------------------------------------------------------------------------------
IMAGE = {"Env": [IMAGE_PATH, "LANG=C"], "Cmd": ["nginx", "-g", "daemon off;"],
         "Entrypoint": ["/docker-entry"], "WorkingDir": "/srv", "User": "www",
         "ExposedPorts": {"80/tcp": {}}, "Labels": {"a": "1", "b": "2"},
         "StopSignal": "SIGQUIT", "Volumes": {"/cache": {}}}


def test_merge_defaults_from_image() -> None:
    cfg = spec.merge_image_config({"Image": "nginx"}, IMAGE)
    assert cfg["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert cfg["Entrypoint"] == ["/docker-entry"]
    assert (cfg["WorkingDir"], cfg["User"], cfg["StopSignal"]) == ("/srv", "www", "SIGQUIT")
    assert cfg["Env"] == [IMAGE_PATH, "LANG=C"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}}
    assert cfg["Volumes"] == {"/cache": {}}
    assert cfg["Image"] == "nginx"


def test_merge_accepts_full_image_config() -> None:
    assert spec.merge_image_config({}, {"config": IMAGE, "rootfs": {}})["Cmd"] == IMAGE["Cmd"]


def test_merge_env_user_first_same_key_replaced() -> None:
    cfg = spec.merge_image_config({"Env": ["LANG=fr", "A=1"]}, IMAGE)
    assert cfg["Env"] == ["LANG=fr", "A=1", IMAGE_PATH]


def test_merge_cmd_overrides_keeps_entrypoint() -> None:
    cfg = spec.merge_image_config({"Cmd": ["-v"]}, IMAGE)
    assert (cfg["Entrypoint"], cfg["Cmd"]) == (["/docker-entry"], ["-v"])


def test_merge_entrypoint_resets_image_cmd() -> None:
    cfg = spec.merge_image_config({"Entrypoint": ["/bin/echo"]}, IMAGE)
    assert (cfg["Entrypoint"], cfg["Cmd"]) == (["/bin/echo"], None)
    cfg = spec.merge_image_config({"Entrypoint": ["/bin/echo"], "Cmd": ["hi"]}, IMAGE)
    assert (cfg["Entrypoint"], cfg["Cmd"]) == (["/bin/echo"], ["hi"])


def test_merge_empty_entrypoint_clears_it_and_keeps_image_cmd() -> None:
    cfg = spec.merge_image_config({"Entrypoint": [""]}, IMAGE)
    assert (cfg["Entrypoint"], cfg["Cmd"]) == ([], ["nginx", "-g", "daemon off;"])


def test_merge_labels_and_ports_union() -> None:
    cfg = spec.merge_image_config({"Labels": {"b": "x"}, "ExposedPorts": {"53/udp": {}}}, IMAGE)
    assert cfg["Labels"] == {"a": "1", "b": "x"}
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}


def test_merge_drops_hostconfig_from_body() -> None:
    cfg = spec.merge_image_config({"Cmd": ["x"], "HostConfig": {}, "NetworkingConfig": {}}, None)
    assert "HostConfig" not in cfg
    assert "NetworkingConfig" not in cfg


# -- env ------------------------------------------------------------------------------------------
def test_env_order_and_overrides() -> None:
    env = spec.build_env({"Hostname": "h", "Tty": True, "Env": ["TERM=vt100", "X=1", "PATH=/p"]}, "/root")
    assert env == ["PATH=/p", "HOSTNAME=h", "TERM=vt100", "X=1", "HOME=/root"]


def test_env_default_path_and_unset() -> None:
    env = spec.build_env({"Hostname": "h", "Env": ["HOME=/x", "HOSTNAME"]}, "/root")
    assert env == [f"PATH={spec.DEFAULT_PATH}", "HOME=/x"]


# -- validation -----------------------------------------------------------------------------------
CMD = {"Cmd": ["true"]}


@pytest.mark.parametrize(
    ("config", "hc", "text"),
    [
        ({}, {}, "No command specified"),
        ({"Cmd": ["x"], "WorkingDir": "rel"}, {},
         "the working directory 'rel' is invalid, it needs to be an absolute path"),
        (CMD, {"CapAdd": ["CAP_FOO"]}, 'invalid CapAdd: unknown capability: "CAP_FOO"'),
        (CMD, {"CapDrop": ["bogus"]}, 'invalid CapDrop: unknown capability: "CAP_BOGUS"'),
        (CMD, {"Binds": ["/a"]}, "invalid volume specification: '/a'"),
        (CMD, {"Binds": ["/a:rel"]}, "invalid volume specification: '/a:rel': invalid mount config for type "
                                     "\"bind\": invalid mount path: 'rel' mount path must be absolute"),
        (CMD, {"Sysctls": {"kernel.panic": "1"}}, "sysctl 'kernel.panic' is not allowed"),
        (CMD, {"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}},
         'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'),
        (CMD, {"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}, "invalid ulimit type: bogus"),
        (CMD, {"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 1}]},
         "ulimit soft limit must be less than or equal to hard limit: 10 > 1"),
        (CMD, {"OomScoreAdj": 1001}, "Invalid value 1001, range for oom score adj is [-1000, 1000]"),
        (CMD, {"IpcMode": "weird"}, "invalid IPC mode: weird"),
        (CMD, {"PidMode": "weird"}, "invalid PID mode: weird"),
        (CMD, {"UTSMode": "weird"}, "invalid UTS mode: weird"),
        (CMD, {"NetworkMode": "host", "Dns": ["1.1.1.1"]}, "conflicting options: dns and the network mode"),
        (CMD, {"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
        (CMD, {"NanoCpus": 1, "CpuQuota": 1},
         "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
        (CMD, {"SecurityOpt": ["bogus"]}, 'invalid --security-opt 1: "bogus"'),
        (CMD, {"SecurityOpt": ["foo=bar"]}, 'invalid --security-opt 2: "foo=bar"'),
        (CMD, {"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy: unknown policy 'sometimes'; "
                                                         "use one of 'no', 'always', 'on-failure', or "
                                                         "'unless-stopped'"),
        (CMD, {"AutoRemove": True, "RestartPolicy": {"Name": "always"}},
         "can't create 'AutoRemove' container with restart policy"),
    ],
)
def test_validate_errors(config: dict[str, Any], hc: dict[str, Any], text: str) -> None:
    with pytest.raises(errdefs.InvalidParameter) as info:
        spec.validate(config, hc)
    assert str(info.value) == text


def test_validate_accepts_docker_run_defaults() -> None:
    hc = {"NetworkMode": "default", "RestartPolicy": {"Name": "no"}, "MemorySwappiness": None,
          "CapAdd": ["ALL"], "CapDrop": None, "Binds": ["vol1:/v", "/srv:/data:ro,rslave"],
          "Sysctls": {"net.core.somaxconn": "1024", "fs.mqueue.msg_max": "20"}, "AutoRemove": True}
    spec.validate({"Cmd": ["sh"], "WorkingDir": "/"}, hc)


# -- capabilities and other details ---------------------------------------------------------------------
def caps_of(hc: dict[str, Any], known: list[str] | None = None) -> list[str]:
    out = build("c", {"Cmd": ["x"]}, hc, known_caps=known or spec.KNOWN_CAPS)
    bounding: list[str] = out["process"]["capabilities"]["bounding"]
    return bounding


def test_cap_add_all_minus_drop() -> None:
    assert caps_of({"CapAdd": ["ALL"], "CapDrop": ["kill"]}, ["CAP_CHOWN", "CAP_KILL", "CAP_BPF"]) == [
        "CAP_CHOWN", "CAP_BPF"]


def test_cap_drop_all_keeps_only_added() -> None:
    assert caps_of({"CapDrop": ["ALL"], "CapAdd": ["chown", "net_bind_service"]}) == [
        "CAP_CHOWN", "CAP_NET_BIND_SERVICE"]


def test_cap_add_existing_is_not_duplicated() -> None:
    caps = caps_of({"CapAdd": ["CHOWN"]})
    assert caps.count("CAP_CHOWN") == 1


def test_container_network_namespace_joins_path() -> None:
    out = build("c", {"Cmd": ["x"]}, {"NetworkMode": "container:abc"}, ns_paths={"network": "/proc/9/ns/net"})
    assert {"type": "network", "path": "/proc/9/ns/net"} in out["linux"]["namespaces"]
    with pytest.raises(errdefs.Conflict, match="cannot join network of a non running container: abc"):
        build("c", {"Cmd": ["x"]}, {"NetworkMode": "container:abc"})


def test_user_bind_over_etc_file_wins() -> None:
    out = build("c", {"Cmd": ["x"]}, {"Binds": ["/my/hosts:/etc/hosts:ro"]})
    hosts = [m for m in out["mounts"] if m["destination"] == "/etc/hosts"]
    assert hosts == [{"destination": "/etc/hosts", "type": "bind", "source": "/my/hosts",
                      "options": ["rbind", "ro", "rprivate"]}]


def test_user_tmpfs_over_dev_shm_replaces_default() -> None:
    out = build("c", {"Cmd": ["x"]}, {"Tmpfs": {"/dev/shm": "size=1m"}})
    shm = [m for m in out["mounts"] if m["destination"] == "/dev/shm"]
    assert shm == [{"destination": "/dev/shm", "type": "tmpfs", "source": "tmpfs",
                    "options": ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]}]


def test_ipc_none_has_no_shm() -> None:
    out = build("c", {"Cmd": ["x"]}, {"IpcMode": "none"})
    assert all(m["destination"] != "/dev/shm" for m in out["mounts"])


def test_named_volume_needs_a_path() -> None:
    with pytest.raises(errdefs.NotFound):
        build("c", {"Cmd": ["x"]}, {"Binds": ["vol1:/v"]})
    out = build("c", {"Cmd": ["x"]}, {"Binds": ["vol1:/v"]},
                volume_paths={"vol1": "/var/lib/berth/volumes/vol1"})
    assert {"destination": "/v", "type": "bind", "source": "/var/lib/berth/volumes/vol1",
            "options": ["rbind", "rprivate"]} in out["mounts"]


def test_init_without_binary_is_an_error() -> None:
    with pytest.raises(errdefs.System):
        build("c", {"Cmd": ["x"]}, {"Init": True})


def test_seccomp_unconfined_drops_profile() -> None:
    out = build("c", {"Cmd": ["x"]}, {"SecurityOpt": ["seccomp=unconfined"]}, seccomp={"defaultAction": "x"})
    assert "seccomp" not in out["linux"]


def test_device_that_is_not_a_node(tmp_path: Path) -> None:
    f = tmp_path / "plain"
    f.write_text("")
    with pytest.raises(errdefs.InvalidParameter, match="not a device node"):
        build("c", {"Cmd": ["x"]}, {"Devices": [{"PathOnHost": str(f)}]})


def test_build_for_a_record_and_write(tmp_path: Path) -> None:
    c = Container.new(cid="ab" * 32, name="n", image="busybox", image_id="sha256:" + "cd" * 32,
                      config={"Cmd": ["sh"]}, host_config={}, root=str(tmp_path))
    oci = spec.build(c, user=ROOT, rootfs=str(tmp_path / "bundle" / "rootfs"), cgroups_path=f"/berth/{c.id}")
    assert oci["hostname"] == c.id[:12]
    assert {"destination": "/etc/hosts", "type": "bind", "source": c.hosts_path,
            "options": ["rbind", "rprivate"]} in oci["mounts"]
    assert "CAP_CHOWN" in spec.all_capabilities()
    spec.write(str(tmp_path / "bundle"), oci)
    assert json.loads((tmp_path / "bundle" / "config.json").read_text()) == oci


# -- HostConfig.Mounts (--mount) ------------------------------------------------------------------------
def test_api_mounts() -> None:
    mounts = [
        {"Type": "bind", "Source": "/src", "Target": "/dst", "ReadOnly": True,
         "BindOptions": {"Propagation": "rslave"}},
        {"Type": "bind", "Source": "/a", "Target": "/b", "BindOptions": {"NonRecursive": True}},
        {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 16 << 20, "Mode": 0o1770}},
        {"Type": "volume", "Source": "v1", "Target": "/v"},
    ]
    out = build("c", {"Cmd": ["x"]}, {"Mounts": mounts}, volume_paths={"v1": "/vols/v1"})
    own = [m for m in out["mounts"] if m["destination"] in ("/dst", "/b", "/scratch", "/v")]
    assert own == [
        {"destination": "/dst", "type": "bind", "source": "/src", "options": ["rbind", "ro", "rslave"]},
        {"destination": "/b", "type": "bind", "source": "/a", "options": ["bind", "rprivate"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["noexec", "nosuid", "nodev", "rprivate", "mode=1770", "size=16m"]},
        {"destination": "/v", "type": "bind", "source": "/vols/v1", "options": ["rbind", "rprivate"]},
    ]


@pytest.mark.parametrize(
    ("hc", "text"),
    [
        ({"Mounts": [{"Type": "bind", "Target": "/x"}]},
         'invalid mount config for type "bind": field Source must not be empty'),
        ({"Mounts": [{"Type": "bind", "Source": "/x"}]},
         'invalid mount config for type "bind": field Target must not be empty'),
        ({"Mounts": [{"Type": "tmpfs", "Target": "rel"}]},
         "invalid mount config for type \"tmpfs\": invalid mount path: 'rel' mount path must be absolute"),
        ({"Mounts": [{"Type": "npipe", "Target": "/x"}]},
         'invalid mount config for type "npipe": mount type unknown'),
        ({"Binds": ["/a:/data"], "Tmpfs": {"/data": ""}}, "Duplicate mount point: /data"),
        ({"Binds": ["/a:/data"], "Mounts": [{"Type": "bind", "Source": "/b", "Target": "/data/"}]},
         "Duplicate mount point: /data"),
    ],
)
def test_api_mount_errors(hc: dict[str, Any], text: str) -> None:
    with pytest.raises(errdefs.InvalidParameter) as info:
        spec.validate({"Cmd": ["x"]}, hc)
    assert str(info.value) == text


def test_privileged_record_gets_host_devices(tmp_path: Path) -> None:
    c = Container.new(cid="ef" * 32, name="p", image="busybox", image_id="sha256:" + "cd" * 32,
                      config={"Cmd": ["sh"]}, host_config={"Privileged": True}, root=str(tmp_path))
    oci = spec.build(c, user=ROOT, rootfs=str(tmp_path / "r"), cgroups_path="/berth/p")
    paths = {d["path"] for d in oci["linux"]["devices"]}
    assert "/dev/null" in paths
    assert not any(p.startswith(("/dev/pts/", "/dev/shm/")) for p in paths)
    assert oci["linux"]["maskedPaths"] == []


def test_merge_normalizes_nulls() -> None:
    cfg = spec.merge_image_config({"Tty": None, "Hostname": None, "Labels": None, "Env": None, "Cmd": "sh"}, {})
    assert (cfg["Tty"], cfg["Hostname"], cfg["Labels"], cfg["Env"], cfg["Cmd"]) == (False, "", {}, [], ["sh"])


def test_all_capabilities_follow_a_mask() -> None:
    assert spec.all_capabilities(0b101) == ["CAP_CHOWN", "CAP_DAC_READ_SEARCH"]
    assert "CAP_KILL" in spec.all_capabilities()


def test_network_sysctls_only_in_own_network_namespace() -> None:
    own = build("c", {"Cmd": ["x"]}, {"Sysctls": {"net.ipv4.ip_unprivileged_port_start": "1024"}})
    assert own["linux"]["sysctl"] == {"net.ipv4.ping_group_range": "0 2147483647",
                                      "net.ipv4.ip_unprivileged_port_start": "1024"}
    joined = build("c", {"Cmd": ["x"]}, {"NetworkMode": "container:x"}, ns_paths={"network": "/p"})
    assert "sysctl" not in joined["linux"]
    assert "sysctl" not in build("c", {"Cmd": ["x"]}, {"NetworkMode": "bridge"}, net_sysctls={})["linux"]
