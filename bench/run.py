"""All of miniorch's benchmark figures in one run, on the bench's own Docker nodes.

    .venv/bin/python bench/run.py                 # everything (about 25 minutes); see bench/README.md
    .venv/bin/python bench/run.py --only throughput --shapes 40x1 --runs 1

1. throughput: shapes CxP (40x1, 40x4 on 1 node, 100x10 on 3): the Docker SDK floor, Docker
   Swarm replicated-job services, and a miniorch Job; median of --runs, systems alternating.
2. cron: scheduled time to container StartedAt over --ticks ticks of a `*/2 * * * * *` CronJob.
3. recovery: kill -9 of the daemon mid-Job; a node's dockerd stopped mid-Job.
4. control: 1,000 CronJobs and 10,000 finished pods; RSS, CPU and `ctl get` latency.

Results: bench/results/latest.md and latest.json (or --out DIR).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import control_plane  # noqa: E402
import cron_latency  # noqa: E402
import docker  # noqa: E402
import job_throughput  # noqa: E402
import recovery  # noqa: E402
import swarm as swarm_mod  # noqa: E402
from support import dockernodes  # noqa: E402
from support.daemon import FAST_TIMING, Daemon  # noqa: E402

NODES_DIR = Path("/tmp/miniorch-bench-nodes")
SHAPES = {"40x1": 1, "40x4": 1, "100x10": 3}  # shape -> nodes
SYSTEMS = ("floor", "swarm", "miniorch")
SETTLE_SECONDS = 3.0
PARTS = ("throughput", "cron", "recovery", "control")


def load() -> float:
    return os.getloadavg()[0]


# What a user runs: the shipped node timings (the test suite's are 4x as eager). Backoff does
# not matter here: the containers exit 0.
SHIPPED_NODE_TIMING = {"node_heartbeat_seconds": 2, "node_timeout_seconds": 10}


def new_daemon(nodes: list[dockernodes.DockerNode], label: str, timing: Mapping[str, float] | None = None) -> Daemon:
    work = Path(tempfile.mkdtemp(prefix=f"miniorch-bench-{label}-"))
    return Daemon(
        work, [(n.name, n.url) for n in nodes], timing=timing, extra={"log": {"format": "json", "level": "info"}}
    )


# -- 1. throughput --------------------------------------------------------------
def throughput(
    nodes: list[dockernodes.DockerNode], shapes: list[str], runs: int, use_swarm: bool, warmup: bool = True
) -> dict[str, Any]:
    out: dict[str, Any] = {"load_before": load(), "shapes": {}}
    swarm: swarm_mod.Swarm | None = None
    need = max(SHAPES[s] for s in shapes)
    if use_swarm:
        swarm = swarm_mod.Swarm(nodes[:need])
        try:
            swarm.form()
            out["swarm"] = f"one swarm over {len(swarm.joined)} engine(s), each advertising its own bridge address"
        except (docker.errors.APIError, RuntimeError) as exc:
            swarm.leave()
            swarm = swarm_mod.Swarm(nodes[:1])
            swarm.form()
            out["swarm"] = f"joining several engines failed ({exc}); single-node shapes only"
    try:
        for shape in shapes:
            out["shapes"][shape] = _one_shape(nodes[: SHAPES[shape]], shape, runs, swarm, warmup)
    finally:
        if swarm is not None:
            swarm.leave()
            swarm.close()
    out["load_after"] = load()
    return out


def _one_shape(
    nodes: list[dockernodes.DockerNode], shape: str, runs: int, swarm: swarm_mod.Swarm | None, warmup: bool
) -> dict[str, Any]:
    completions, parallelism = (int(x) for x in shape.split("x"))
    urls = [n.url for n in nodes]
    d = new_daemon(nodes, shape, SHIPPED_NODE_TIMING)
    d.start()
    multi_swarm = swarm is not None and len(swarm.joined) >= len(nodes)
    systems = [s for s in SYSTEMS if s != "swarm" or multi_swarm]
    times: dict[str, list[float]] = {s: [] for s in systems}

    def run_one(system: str, tag: str, c: int, p: int) -> float:
        if system == "floor":
            return job_throughput.floor_run(urls, c, p, tag)
        if system == "swarm":
            assert swarm is not None
            return swarm.run(c, p, tag, manager_only=len(nodes) == 1)
        return job_throughput.miniorch_run(d, c, p, tag, False)

    try:
        for system in systems if warmup else ():  # warm every path (image layers, connection pools, imports) alike
            run_one(system, f"warm-{shape}", min(4, completions), min(2, parallelism))
        # Every order in turn, so that each system follows each other equally often (a plain
        # rotation always put miniorch right after Swarm), with a pause between timed runs so
        # that one system's aftermath (Swarm reaping its tasks, exiting shims) lands on none.
        orders = list(itertools.permutations(systems))
        for run in range(runs):
            for system in orders[run % len(orders)]:
                time.sleep(SETTLE_SECONDS)
                times[system].append(run_one(system, f"{shape}-{run}", completions, parallelism))
                print(f"  {shape} run {run + 1}: {system:8s} {times[system][-1]:6.2f}s  load {load():.1f}", flush=True)
    finally:
        d.stop()
    med = {s: statistics.median(v) for s, v in times.items()}
    result: dict[str, Any] = {
        "nodes": len(nodes),
        "runs": {s: [round(x, 3) for x in v] for s, v in times.items()},
        "median_s": {s: round(m, 3) for s, m in med.items()},
        "miniorch_over_floor": round(med["miniorch"] / med["floor"], 3),
    }
    if "swarm" in med:
        result["swarm_over_floor"] = round(med["swarm"] / med["floor"], 3)
    print(f"{shape}: " + ", ".join(f"{s} {m:.2f}s" for s, m in med.items()), flush=True)
    return result


# -- 2. cron ----------------------------------------------------------------------
class _CountingStarts(dict[str, dt.datetime]):
    """`StartWatcher.starts` that also counts container starts per Job (duplicates)."""

    def __init__(self) -> None:
        super().__init__()
        self.count: dict[str, int] = {}

    def setdefault(self, key: str, default: dt.datetime) -> dt.datetime:
        self.count[key] = self.count.get(key, 0) + 1
        return super().setdefault(key, default)


def cron(nodes: list[dockernodes.DockerNode], ticks: int) -> dict[str, Any]:
    """Reuses bench/cron_latency.py's CronJob, watcher and percentile; adds missed and duplicate ticks."""
    d = new_daemon(nodes, "cron")
    d.start()
    watcher = cron_latency.StartWatcher(nodes)
    counting = _CountingStarts()
    watcher.starts = counting
    load_before = load()
    try:
        watcher.start()
        time.sleep(0.5)
        applied = time.time()
        cron_latency.apply(d, [cron_latency.cronjob("tick", "*/2 * * * * *", ["true"], history=1)])
        time.sleep(ticks * 2 + 1)
        d.api("DELETE", "/apis/batch/v1/namespaces/default/cronjobs/tick")
        ended = time.time()
        time.sleep(2)
    finally:
        watcher.close()
        d.stop()
    slots = {int(j.rsplit("-", 1)[1]): s for j, s in counting.items() if j.startswith("tick-")}
    expected = set(range((int(applied) // 2 + 1) * 2, int(ended) - 2, 2))  # slots that surely fired before the delete
    delays = [(s - dt.datetime.fromtimestamp(t, dt.UTC)).total_seconds() for t, s in slots.items()]
    return {
        "ticks": len(delays),
        "p50_s": round(cron_latency.percentile(delays, 50), 3),
        "p99_s": round(cron_latency.percentile(delays, 99), 3),
        "max_s": round(max(delays), 3),
        "missed": len(expected - set(slots)),
        "duplicates": sum(c - 1 for j, c in counting.count.items() if j.startswith("tick-")),
        "load_before": load_before,
        "load_after": load(),
    }


# -- 3. recovery ------------------------------------------------------------------
def recover(nodes: list[dockernodes.DockerNode]) -> dict[str, Any]:
    d = new_daemon(nodes, "recovery")
    d.start()
    out: dict[str, Any] = {"load_before": load()}
    try:
        out["daemon_kill9"] = recovery.daemon_kill(d, [n.url for n in nodes])
        out["node_stop"] = recovery.node_loss(d, nodes, FAST_TIMING)
    finally:
        d.stop()
        dockernodes.restart_stopped_nodes(nodes)
    out["load_after"] = load()
    return out


# -- 4. control plane ---------------------------------------------------------------
def control(nodes: list[dockernodes.DockerNode], cronjobs: int, jobs: int, pods: int, idle: float) -> dict[str, Any]:
    d = new_daemon(nodes[:1], "control")
    d.start()
    out: dict[str, Any] = {"load_before": load()}
    try:
        out["history"] = control_plane.seed_history(d, jobs, pods // jobs)
        out.update(control_plane.measure(d, cronjobs, idle))
    finally:
        d.stop()
    out["workdir"] = str(d.workdir)
    out["load_after"] = load()
    return out


# -- results ------------------------------------------------------------------------
def docker_version(url: str) -> str:
    client = docker.DockerClient(base_url=url, timeout=10)
    try:
        return f"engine {client.version().get('Version')}, docker-py {docker.__version__}"
    finally:
        client.close()


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# miniorch benchmarks ({r['date']})",
        "",
        f"{r['cpus']} CPUs, Python {r['python']}, Docker {r['docker']}; load average at start {r['load_start']:.2f}.",
        f"Command: `{r['command']}`",
        "",
    ]
    t = r.get("throughput")
    if t:
        lines += [f"## Batch throughput (median makespan; {t.get('swarm', 'no swarm')})", ""]
        lines += [
            "| shape | nodes | floor (SDK) | Swarm | miniorch | miniorch/floor | Swarm/floor | runs |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for shape, s in t["shapes"].items():
            m = s["median_s"]
            sw = f"{m['swarm']:.2f}s" if "swarm" in m else "n/a"
            swr = f"{s['swarm_over_floor']:.3f}" if "swarm_over_floor" in s else "n/a"
            lines.append(
                f"| {shape} | {s['nodes']} | {m['floor']:.2f}s | {sw} | {m['miniorch']:.2f}s "
                f"| {s['miniorch_over_floor']:.3f} | {swr} | {len(s['runs']['floor'])} |"
            )
        lines += [
            "",
            "The daemon runs with its shipped node timings (heartbeat 2 s). Each run takes the next of "
            "the six orders of the systems, with a 3 s pause before each timed run.",
            f"Load average {t['load_before']:.2f} before, {t['load_after']:.2f} after.",
            "",
        ]
    c = r.get("cron")
    if c:
        lines += ["## Cron latency (`*/2 * * * * *`, scheduled time to container StartedAt)", ""]
        lines += ["| ticks | p50 | p99 | max | missed | duplicates |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {c['ticks']} | {c['p50_s']}s | {c['p99_s']}s | {c['max_s']}s | {c['missed']} | {c['duplicates']} |",
            "",
        ]
    rec = r.get("recovery")
    if rec:
        k, n = rec["daemon_kill9"], rec["node_stop"]
        lines += ["## Recovery", "", "| what | time |", "|---|---|"]
        lines += [
            f"| `kill -9` of the daemon → API answers again (restarted at once) | {k['kill_to_api_s']}s |",
            f"| `kill -9` of the daemon → the first container the restarted daemon created starts "
            f"| {k['kill_to_next_pod_start_s']}s |",
            f"| node's dockerd stop begins ({n['pods_on_stopped_node']} pods on it) → all pods Running elsewhere "
            f"(node_timeout_seconds {n['node_timeout_seconds']}, heartbeat {n['node_heartbeat_seconds']}s) "
            f"| {n['stop_to_all_replaced_running_s']}s |",
            f"| ... of which the stop itself (containers SIGKILLed, dockerd SIGTERMed) | {n['stop_call_s']}s |",
            "",
        ]
    cp = r.get("control")
    if cp:
        h = cp["history"]
        lines += [
            f"## Control plane ({cp['cronjobs']} CronJobs, {h['pods']} finished pods in {h['jobs']} Jobs)",
            "",
            "| what | value |",
            "|---|---|",
            f"| RSS, idle (peak over {cp['seconds']:.0f}s) | {cp['rss_mb']} MB |",
            f"| RSS after the listings below | {cp['rss_mb_after_listings']} MB |",
            f"| CPU, idle | {cp['idle_cpu_percent']}% of one core |",
        ]
        lines += [f"| {k} | {v}{'' if 'items' in k else 's'} |" for k, v in cp["ctl"].items()]
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated CxP shapes (40x1,40x4,100x10)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-swarm", action="store_true")
    parser.add_argument("--no-warmup", action="store_true", help="skip the small warm-up run of each system")
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--cronjobs", type=int, default=1000)
    parser.add_argument("--history-pods", type=int, default=10000)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--nodes-dir", type=Path, default=NODES_DIR)
    parser.add_argument("--keep-nodes", action="store_true", help="leave the bench nodes running at the end")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {unknown}; choose from {list(SHAPES)}")

    parts = args.only or list(PARTS)
    count = 3 if set(parts) - {"throughput"} or any(SHAPES[s] > 1 for s in shapes) else 1
    nodes = dockernodes.start_nodes(count, args.nodes_dir)
    dockernodes.ensure_test_image(nodes)
    r: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "docker": docker_version(nodes[0].url),
        "load_start": load(),
    }
    try:
        if "throughput" in parts:
            r["throughput"] = throughput(nodes, shapes, args.runs, not args.no_swarm, not args.no_warmup)
        if "cron" in parts:
            r["cron"] = cron(nodes, args.ticks)
            print(json.dumps({"cron": r["cron"]}), flush=True)
        if "recovery" in parts:
            r["recovery"] = recover(nodes)
            print(json.dumps({"recovery": r["recovery"]}), flush=True)
        if "control" in parts:
            r["control"] = control(nodes, args.cronjobs, 10, args.history_pods, args.idle_seconds)
            print(json.dumps({"control": r["control"]}), flush=True)
    finally:
        if not args.keep_nodes:
            dockernodes.stop_nodes(args.nodes_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(r, indent=2) + "\n")
    text = markdown(r)
    (args.out / "latest.md").write_text(text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
