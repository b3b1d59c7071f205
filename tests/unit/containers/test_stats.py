"""`docker stats` readers: cgroup v1 and v2 files and /proc/net/dev, in dockerd's StatsJSON shape."""

from __future__ import annotations

from pathlib import Path

from berth.daemon.containers.stats import CgroupReader, empty_sample, sample
from berth.kernel.features import CgroupMount


def write(d: Path, files: dict[str, str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)


def test_cgroup_v1(tmp_path: Path) -> None:
    path = "/berth/c1"
    mounts = [CgroupMount(str(tmp_path / c), "/", 1, (c,)) for c in ("cpu", "cpuacct", "memory", "pids", "blkio")]
    write(tmp_path / "cpuacct/berth/c1", {"cpuacct.usage": "5000\n", "cpuacct.usage_percpu": "2000 3000 \n",
                                           "cpuacct.stat": "user 2\nsystem 1\n"})
    write(tmp_path / "cpu/berth/c1", {"cpu.stat": "nr_periods 7\nnr_throttled 2\nthrottled_time 900\n"})
    write(tmp_path / "memory/berth/c1", {"memory.usage_in_bytes": "4096\n", "memory.max_usage_in_bytes": "8192\n",
                                          "memory.failcnt": "0\n", "memory.limit_in_bytes": "67108864\n",
                                          "memory.stat": "cache 0\ntotal_inactive_file 1024\n"})
    write(tmp_path / "pids/berth/c1", {"pids.current": "3\n", "pids.max": "max\n"})
    write(tmp_path / "blkio/berth/c1", {"blkio.throttle.io_service_bytes": "8:0 Read 10\n8:0 Write 20\nTotal 30\n"})
    r = CgroupReader(path, mounts)
    cpu = r.cpu()
    assert cpu["cpu_usage"]["total_usage"] == 5000
    assert cpu["cpu_usage"]["percpu_usage"] == [2000, 3000]
    assert cpu["throttling_data"] == {"periods": 7, "throttled_periods": 2, "throttled_time": 900}
    mem = r.memory()
    assert (mem["usage"], mem["max_usage"], mem["limit"]) == (4096, 8192, 67108864)
    assert mem["stats"]["total_inactive_file"] == 1024  # the CLI takes it off the usage
    assert r.pids() == {"current": 3}
    assert r.blkio()["io_service_bytes_recursive"] == [{"major": 8, "minor": 0, "op": "Read", "value": 10},
                                                       {"major": 8, "minor": 0, "op": "Write", "value": 20}]


def test_cgroup_v2(tmp_path: Path) -> None:
    write(tmp_path / "berth/c2", {"cpu.stat": "usage_usec 7\nuser_usec 4\nsystem_usec 3\nnr_periods 1\n"
                                              "nr_throttled 0\nthrottled_usec 0\n",
                                  "memory.current": "2048\n", "memory.max": "max\n",
                                  "memory.stat": "anon 1024\ninactive_file 512\n",
                                  "pids.current": "2\n", "pids.max": "100\n",
                                  "io.stat": "8:0 rbytes=5 wbytes=6 rios=1\n"})
    r = CgroupReader("/berth/c2", [CgroupMount(str(tmp_path), "/", 2, ())])
    assert r.cpu()["cpu_usage"] == {"total_usage": 7000, "usage_in_kernelmode": 3000, "usage_in_usermode": 4000}
    mem = r.memory()
    assert mem["usage"] == 2048
    assert mem["limit"] > 2048  # no limit: the machine's memory
    assert r.pids() == {"current": 2, "limit": 100}
    assert [(e["op"], e["value"]) for e in r.blkio()["io_service_bytes_recursive"]] == [("read", 5), ("write", 6)]


def test_sample_chains_the_previous_cpu_and_reads_this_process_network(tmp_path: Path) -> None:
    r = CgroupReader("/x", [CgroupMount(str(tmp_path), "/", 2, ())])
    first = sample("id1", "web", r, 1, False, None, lambda: 1_700_000_000_000_000_000)
    assert (first["name"], first["preread"], "networks" in first) == ("/web", "0001-01-01T00:00:00Z", False)
    second = sample("id1", "web", r, 1, True, first, lambda: 1_700_000_001_000_000_000)
    assert second["preread"] == first["read"]
    assert second["precpu_stats"] == first["cpu_stats"]
    assert isinstance(second["networks"], dict)
    assert "lo" not in second["networks"]
    assert empty_sample("id1", "web")["read"] == "0001-01-01T00:00:00Z"
