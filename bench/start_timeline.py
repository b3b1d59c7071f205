"""Where the time of `run --rm busybox true` goes: kernel tracepoints (perf) on a private berthd, per phase.

Usage: .venv/bin/python -m bench.start_timeline [--runs N] [--cli docker|berth]
Needs root and `perf` (Debian: linux-perf); prints nothing but a note without them. Tracepoints cost a few
microseconds each, so the phases add up to a little more than an untraced run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.daemon_harness import DOCKER, running_daemon
from tests.rootfs import busybox_tar_bytes

EVENTS = ("sched:sched_process_exec", "sched:sched_process_exit", "syscalls:sys_exit_accept4",
          "syscalls:sys_enter_connect", "syscalls:sys_enter_unshare", "syscalls:sys_enter_pivot_root",
          "cgroup:cgroup_attach_task")
PHASES = (
    ("cli", "api", "CLI start-up, to its first request"),
    ("api", "zygote", "ping, create, attach, wait, start: to the spare shim taking the request"),
    ("zygote", "unshare", "shim and runtime create: to the new namespaces"),
    ("unshare", "pivot", "init builds the rootfs (mounts, /dev, /proc): to pivot_root"),
    ("pivot", "exec", "cgroups, create returns, start: to the command's exec"),
    ("exec", "exited", "the container's command runs"),
    ("exited", "done", "exit recorded, container removed, wait answered, CLI exits"),
)


def _events(perf_script: str, cli_comm: str, cmd_path: str, cgroup_parent: str) -> dict[str, float]:
    """The milestones of one traced run, in ms from the CLI's exec."""
    marks: dict[str, float] = {}
    cli_pid = None
    for line in perf_script.splitlines():
        parts = line.split(None, 4)
        if len(parts) < 5:
            continue
        comm, ids, stamp, event, rest = parts
        pid = ids.split("/")[0]
        t = float(stamp.rstrip(":")) * 1000
        if event == "sched:sched_process_exec:" and cli_pid is None and comm == cli_comm:
            cli_pid, marks["cli"] = pid, t
        elif cli_pid is None:
            continue
        elif event == "syscalls:sys_enter_connect:" and pid == cli_pid:
            marks.setdefault("api", t)
        elif event == "syscalls:sys_exit_accept4:" and comm.startswith("berth-spare"):
            marks.setdefault("zygote", t)
        elif event == "syscalls:sys_enter_unshare:" and "zygote" in marks:
            marks.setdefault("unshare", t)
        elif event == "syscalls:sys_enter_pivot_root:":
            marks.setdefault("pivot", t)
        elif event == "cgroup:cgroup_attach_task:" and f"/{cgroup_parent}/" in rest:
            marks["cgroups"] = t
        elif event == "sched:sched_process_exec:" and f"filename={cmd_path}" in rest:
            marks.setdefault("exec", t)
        elif event == "sched:sched_process_exit:" and "exec" in marks and "exited" not in marks \
                and f"pid={pid} " in rest and comm == os.path.basename(cmd_path):
            marks["exited"] = t
        elif event == "sched:sched_process_exit:" and pid == cli_pid and "group_dead=1" in rest.replace(
                "group_dead=true", "group_dead=1"):
            marks["done"] = t
    return {k: v - marks["cli"] for k, v in marks.items()} if "cli" in marks else {}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--cli", choices=("docker", "berth"), default="docker")
    args = ap.parse_args()
    perf = shutil.which("perf")
    if os.geteuid() != 0 or not perf:
        print("start timeline: needs root and perf (apt install linux-perf); skipped")
        return 0
    with tempfile.TemporaryDirectory() as tmp, running_daemon(exec_on_tmpfs=True, debug=False) as d:
        d.import_busybox(busybox_tar_bytes(tmp))
        env = d.env()
        if args.cli == "docker":
            cmd, comm = [DOCKER, "run", "--rm", "busybox", "true"], "docker"
        else:
            cmd, comm = [os.path.join(os.path.dirname(sys.executable), "berth"), "run", "--rm", "busybox",
                         "true"], "berth"
        for _ in range(3):
            subprocess.run(cmd, env=env, capture_output=True, check=True)
        rows: list[dict[str, float]] = []
        data = os.path.join(tmp, "perf.data")
        for _ in range(args.runs):
            rec = [perf, "record", "-q", "-a", "-o", data, *[a for e in EVENTS for a in ("-e", e)], "--", *cmd]
            if subprocess.run(rec, env=env, capture_output=True).returncode != 0:
                break  # a perf that cannot trace here (no tracefs, or Debian's wrapper without its kernel's perf)
            script = subprocess.run([perf, "script", "-i", data, "-F", "comm,pid,tid,time,event,trace"],
                                    capture_output=True, text=True).stdout
            marks = _events(script, comm, "/bin/true", d.cgroup_parent)
            if all(k in marks for k in ("cli", "api", "zygote", "unshare", "pivot", "exec", "exited", "done")):
                rows.append(marks)
    if not rows:
        print("start timeline: no complete trace (perf tracepoints missing?)")
        return 0
    print(f"`{args.cli} run --rm busybox true` against berthd, traced {len(rows)} times (median ms):")
    for start, end, label in PHASES:
        print(f"  {statistics.median(r[end] - r[start] for r in rows):6.1f}  {label}")
    print(f"  {statistics.median(r['done'] for r in rows):6.1f}  total (traced)")
    moved = [r["cgroups"] - r["pivot"] for r in rows if "cgroups" in r]
    if moved:
        print(f"  (the runtime moved init into its cgroups {statistics.median(moved):+.1f} ms from pivot_root)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
