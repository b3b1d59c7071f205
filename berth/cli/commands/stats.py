"""`berth stats`: containers' CPU, memory, network, block I/O and pids, computed as the docker CLI does."""

from __future__ import annotations

import sys
import threading
import time

from berth.cli.commands.container import FORMAT_HELP
from berth.cli.pflag import Command
from berth.cli.units import bytes_size, human_size

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Cli

STATS = (Command("stats", "berth stats [OPTIONS] [CONTAINER...]",
                 "Display a live stream of container(s) resource usage statistics")
         .flag("-a, --all", help="Show all containers (default shows just running)")
         .flag("--format", "value", help=FORMAT_HELP)
         .flag("--no-stream", help="Disable streaming stats and only pull the first result")
         .flag("--no-trunc", help="Do not truncate output"))

HEADER = ("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS")
INVALID = {"CPUPerc": "--", "MemUsage": "-- / --", "MemPerc": "--", "NetIO": "--", "BlockIO": "--", "PIDs": "--"}


def row(container: str, doc: dict[str, Any] | None, no_trunc: bool) -> dict[str, str]:
    """One StatsJSON object as the docker CLI's stats entry (its CPU and memory arithmetic)."""
    cid = container if no_trunc else container[:12]
    if not doc or doc.get("read", "").startswith("0001-"):
        return {"Container": cid, "ID": cid, "Name": str((doc or {}).get("name", "--")).lstrip("/") or "--",
                **INVALID}
    cpu, pre = doc.get("cpu_stats") or {}, doc.get("precpu_stats") or {}
    cpu_delta = ((cpu.get("cpu_usage") or {}).get("total_usage", 0)
                 - (pre.get("cpu_usage") or {}).get("total_usage", 0))
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    cpu_percent = cpu_delta / system_delta * cpus * 100 if system_delta > 0 and cpu_delta > 0 else 0.0
    mem = doc.get("memory_stats") or {}
    usage, stats = mem.get("usage", 0), mem.get("stats") or {}
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    used = usage - inactive if inactive < usage else usage
    limit = mem.get("limit", 0)
    rx = sum(n.get("rx_bytes", 0) for n in (doc.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (doc.get("networks") or {}).values())
    read = write = 0
    for entry in (doc.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op") or " ")[0].lower()
        read += entry.get("value", 0) if op == "r" else 0
        write += entry.get("value", 0) if op == "w" else 0
    return {
        "Container": cid, "ID": str(doc.get("id", ""))[: None if no_trunc else 12],
        "Name": str(doc.get("name", "")).lstrip("/"), "CPUPerc": f"{cpu_percent:.2f}%",
        "MemUsage": f"{bytes_size(used)} / {bytes_size(limit)}",
        "MemPerc": f"{used / limit * 100 if limit else 0:.2f}%",
        "NetIO": f"{human_size(rx)} / {human_size(tx)}", "BlockIO": f"{human_size(read)} / {human_size(write)}",
        "PIDs": str((doc.get("pids_stats") or {}).get("current", 0)),
    }


def render(rows: list[dict[str, str]], fmt: str | None) -> str:
    if fmt and fmt != "table":
        from berth.cli.templates import Template, to_json

        if fmt == "json":
            return "".join(to_json(r) + "\n" for r in rows)
        template = Template(fmt.removeprefix("table ").replace("\\t", "\t"))
        return "".join(template.execute(r) + "\n" for r in rows)
    table = [HEADER, *[(r["ID"] or r["Container"], r["Name"], r["CPUPerc"], r["MemUsage"], r["MemPerc"],
                        r["NetIO"], r["BlockIO"], r["PIDs"]) for r in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    return "".join("   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() + "\n"
                   for line in table)


def stats(cli: Cli, argv: list[str]) -> int:
    ns = STATS.parse(argv)
    names = list(ns.args)
    if not names:
        names = [c["Id"] for c in cli.client.get("/containers/json", **({"all": 1} if ns.all else {})) or []]
    latest: dict[str, dict[str, Any] | None] = dict.fromkeys(names)
    failures: list[str] = []

    def follow(name: str) -> None:
        try:
            for doc in cli.client.json_stream("GET", f"/containers/{name}/stats",
                                              {"stream": 0 if ns.no_stream else 1}):
                latest[name] = doc
        except Exception as exc:  # shown as "--", as the docker CLI shows a container it cannot read
            failures.append(f"{exc}")

    threads = [threading.Thread(target=follow, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    if ns.no_stream:
        for t in threads:
            t.join()
        cli.out(render([row(n, latest[n], ns.no_trunc) for n in names], ns.format))
        for failure in failures:
            sys.stderr.write(failure + "\n")
        return 1 if failures and len(failures) == len(names) and ns.args else 0
    while True:
        time.sleep(0.5)
        cli.out("\033[2J\033[H" + render([row(n, latest[n], ns.no_trunc) for n in names], ns.format))
        sys.stdout.flush()
