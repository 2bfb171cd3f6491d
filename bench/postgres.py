"""State in PostgreSQL: Job throughput against SQLite, and how fast a standby takes over.

Side by side in one run on the same Docker node: the floor (Docker SDK), miniorch on
SQLite and miniorch on PostgreSQL (a cluster this script starts), 40 x `true` with
parallelism 4, systems in turn, medians of N runs, ratios. Then HA: two daemons on
one database with the shipped timings; the leader is killed (-9) while a Job runs
and the time to the new leader's first started container is measured, N times, for
the shipped `ha.lease_seconds` (15) and for 5.

    .venv/bin/python bench/postgres.py [--runs 5] [--failovers 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from job_throughput import floor_run, miniorch_run  # noqa: E402
from support import dockernodes  # noqa: E402
from support.daemon import Daemon, job_yaml  # noqa: E402
from support.postgres import PgCluster  # noqa: E402

SHIPPED = {"node_heartbeat_seconds": 2, "node_timeout_seconds": 10}
LOG = {"log": {"format": "json", "level": "info"}}


def throughput(nodes: list[Any], pg: PgCluster, runs: int, completions: int, parallelism: int) -> dict[str, Any]:
    urls = [n.url for n in nodes]
    pairs = [(n.name, n.url) for n in nodes]
    work = Path(tempfile.mkdtemp(prefix="miniorch-bench-pg-"))
    daemons = {
        "sqlite": Daemon(work / "sqlite", pairs, timing=SHIPPED, extra=LOG),
        "postgresql": Daemon(work / "pg", pairs, timing=SHIPPED, extra={**LOG, "database": pg.create_database()}),
    }
    times: dict[str, list[float]] = {"floor": [], "sqlite": [], "postgresql": []}
    try:
        for d in daemons.values():
            d.start()
        floor_run(urls, 4, 2, "warm")
        for run in range(runs):
            order = ["floor", "sqlite", "postgresql"]
            order = order[run % 3 :] + order[: run % 3]  # each system in each position in turn
            for system in order:
                time.sleep(2)
                if system == "floor":
                    took = floor_run(urls, completions, parallelism, f"pg{run}")
                else:
                    took = miniorch_run(daemons[system], completions, parallelism, f"{system[:2]}{run}", False)
                times[system].append(took)
                print(f"run {run + 1}: {system:10s} {took:6.2f}s", flush=True)
    finally:
        for d in daemons.values():
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "runs": times,
        "median_s": med,
        "pg_over_sqlite": med["postgresql"] / med["sqlite"],
        "sqlite_over_floor": med["sqlite"] / med["floor"],
        "pg_over_floor": med["postgresql"] / med["floor"],
    }


def _first_start_after(d: Daemon, after: dt.datetime) -> dt.datetime | None:
    for event in d.log_events():
        if event.get("event") == "pod_started":
            at = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            if at > after:
                return at
    return None


def failover(nodes: list[Any], pg: PgCluster, lease: float, count: int) -> list[float]:
    """Seconds from `kill -9` of the leader to the first container started by the new leader."""
    out = []
    for i in range(count):
        out.append(_one_failover(nodes, pg.create_database(), lease, f"work-{i}"))
        print(f"failover {i + 1} (lease {lease:g}s): {out[-1]:.2f}s", flush=True)
    return out


def _one_failover(nodes: list[Any], url: str, lease: float, job: str) -> float:
    pairs = [(n.name, n.url) for n in nodes]
    work = Path(tempfile.mkdtemp(prefix="miniorch-bench-ha-"))
    ha_cfg = {"enabled": True, "lease_seconds": lease}
    a, b = (
        Daemon(work / n, pairs, timing=SHIPPED, extra={**LOG, "database": url, "ha": {**ha_cfg, "name": n}})
        for n in ("a", "b")
    )
    try:
        a.start()
        a.wait_for(lambda: (a.api("GET", "/version") or {}).get("role") == "leader", timeout=30, what="a leads")
        b.start()
        a.apply(job_yaml(job, "sleep 0.3", parallelism=2, completions=400))
        a.wait_for(lambda: len(a.pods(job)) >= 4, timeout=30, what="pods running")
        killed = dt.datetime.now(dt.UTC)
        a.kill()
        first = b.wait_for(lambda: _first_start_after(b, killed), timeout=lease + 30, what="b starting a pod")
        return float((first - killed).total_seconds())
    finally:
        for d in (a, b):
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
        _clean(nodes)
        shutil.rmtree(work, ignore_errors=True)


def _clean(nodes: list[Any]) -> None:
    for node in nodes:
        with dockernodes.client(node.url) as c:
            for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}):
                ctr.remove(force=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument("--completions", type=int, default=40)
    parser.add_argument("--parallelism", type=int, default=4)
    args = parser.parse_args()
    base = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench-pg"))
    nodes = dockernodes.start_nodes(1, base)
    dockernodes.ensure_test_image(nodes, dockernodes.TEST_IMAGE)
    pg_dir = Path(tempfile.mkdtemp(prefix="miniorch-pg-"))
    pg = PgCluster(pg_dir)
    pg.start()
    try:
        tp = throughput(nodes, pg, args.runs, args.completions, args.parallelism)
        fo = {lease: failover(nodes, pg, lease, args.failovers) for lease in (15.0, 5.0)}
    finally:
        pg.stop()
        shutil.rmtree(pg_dir, ignore_errors=True)
        for node in nodes:
            node.stop()
    shape = f"{args.completions}x{args.parallelism}"
    med = tp["median_s"]
    lines = [
        f"# State in PostgreSQL ({dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}, {os.cpu_count()} CPUs)",
        "",
        f"| shape, median of {args.runs} | floor (SDK) | miniorch, SQLite | miniorch, PostgreSQL | PostgreSQL/SQLite | target |",
        "|---|---|---|---|---|---|",
        f"| {shape}, 1 node | {med['floor']:.2f}s | {med['sqlite']:.2f}s ({tp['sqlite_over_floor']:.3f} of floor) | "
        f"{med['postgresql']:.2f}s ({tp['pg_over_floor']:.3f} of floor) | {tp['pg_over_sqlite']:.3f} | <= 1.05 |",
        "",
        f"| kill -9 of the leader -> first container started by the new leader, {args.failovers} runs | median | max | target |",
        "|---|---|---|---|",
    ]
    for lease, values in fo.items():
        lines.append(
            f"| ha.lease_seconds {lease:g}, heartbeat 2 s | {statistics.median(values):.2f}s | {max(values):.2f}s | "
            f"<= {lease + 3:g}s |"
        )
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "postgres.md").write_text(text)
    (out / "postgres.json").write_text(
        json.dumps({"throughput": tp, "failover_s": {str(k): v for k, v in fo.items()}}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
