"""Shape 1, nodes: --nodes Docker Engines (default 20) on this machine, plus one added later.

1. A DaemonSet (one sleeping agent per node) applied -> every pod Ready; its template updated ->
   every pod replaced (updatedNumberScheduled == numberAvailable == nodes; default maxUnavailable 1,
   so one node after the other); a node added to the config (SIGHUP) -> its pod Ready.
2. The daemon's CPU per minute at rest (heartbeats every 2 s, the 2 s container resync, timers),
   with the agents running on --nodes nodes, and with no workload on 1, --nodes and --configured
   (default 50) configured nodes. Past the engines started, node names share engines round-robin
   (node20 .. node49 reuse the URLs of node0 ..): each name is probed and listed as its own node, so
   the heartbeat and listing cost is that of 50 nodes; no workload runs then, so no container is
   seen twice.

    .venv/bin/python bench/scale_nodes.py [--nodes 20] [--configured 50] [--idle-seconds 60]
"""

from __future__ import annotations

import argparse
import signal
import time
from typing import Any

import ds_latency
import scale_common as sc
import yaml
from support import dockernodes
from support.daemon import Daemon


def _wait(pred: Any, timeout: float) -> float:
    t0 = time.monotonic()
    ds_latency.wait(pred, timeout)
    return round(time.monotonic() - t0, 2)


def _ds_ready(d: Daemon, want: int, generation: int) -> bool:
    s = ds_latency.ds_status(d, "agent")
    return bool(
        s.get("observedGeneration") == generation
        and s.get("numberReady") == want
        and s.get("updatedNumberScheduled") == s.get("numberAvailable") == want
    )


def rollout(d: Daemon, count: int, extra: dockernodes.DockerNode) -> dict[str, Any]:
    out: dict[str, Any] = {}
    t0 = time.monotonic()
    d.api("POST", "/apply", json={"source": "bench", "text": ds_latency.ds("agent", "1")})
    _wait(lambda: _ds_ready(d, count, 1), 600)
    out["apply_to_all_ready_s"] = round(time.monotonic() - t0, 2)
    t0 = time.monotonic()
    d.api("POST", "/apply", json={"source": "bench", "text": ds_latency.ds("agent", "2")})
    _wait(lambda: _ds_ready(d, count, 2), 900)
    out["update_to_all_updated_s"] = round(time.monotonic() - t0, 2)
    config = yaml.safe_load(d.config_path.read_text())
    config["nodes"].append({"name": extra.name, "url": extra.url})
    d.config_path.write_text(yaml.safe_dump(config))
    t0 = time.monotonic()
    assert d.proc is not None
    d.proc.send_signal(signal.SIGHUP)
    _wait(lambda: ds_latency.ready_on(d, "agent", extra.name), 300)
    out["node_added_to_pod_ready_s"] = round(time.monotonic() - t0, 2)
    return out


def idle_cpu(d: Daemon, seconds: float) -> dict[str, Any]:
    """CPU seconds per minute of the daemon at rest, its passes and RSS."""
    assert d.proc is not None
    pid = d.proc.pid
    time.sleep(5)
    cpu0, (n0, s0), t0 = sc.cpu_seconds(pid), sc.pass_stats(d), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    n1, s1 = sc.pass_stats(d)
    return {
        "cpu_s_per_min": round(60 * (sc.cpu_seconds(pid) - cpu0) / elapsed, 2),
        "passes_per_min": round(60 * (n1 - n0) / elapsed, 1),
        "pass_ms": round(1000 * (s1 - s0) / max(1.0, n1 - n0), 2),
        "rss_mb": round(sc.rss_mb(pid), 1),
    }


def ready_nodes(d: Daemon) -> int:
    return sum(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
        for n in d.api("GET", "/api/v1/nodes")["items"]
    )


def idle_daemon(names_urls: list[tuple[str, str]], seconds: float) -> dict[str, Any]:
    d = sc.new_daemon(names_urls, f"idle{len(names_urls)}", sc.SHIPPED_NODE_TIMING)
    d.start(timeout=180)
    try:
        d.wait_for(lambda: ready_nodes(d) == len(names_urls), timeout=120, what="nodes Ready")
        return {"nodes": len(names_urls), **idle_cpu(d, seconds)}
    finally:
        d.stop(timeout=120)


def plot(result: dict[str, Any]) -> None:
    fig, axes = sc.figure("scale_nodes", 2, 5.5)
    if fig is None:
        return
    idle = result["idle_no_workload"]
    xs = [p["nodes"] for p in idle]
    axes[0].plot(xs, [p["cpu_s_per_min"] for p in idle], "o-", label="no workload")
    agents = result["idle_with_agents"]
    axes[0].plot([agents["nodes"]], [agents["cpu_s_per_min"]], "s", label="one agent pod per node")
    axes[0].set(xlabel="configured nodes", ylabel="daemon CPU s per minute", title="at rest", ylim=(0, None))
    axes[0].legend()
    r = result["rollout"]
    labels = ["apply -> all Ready", "update -> all updated", "node added -> pod Ready"]
    values = [r["apply_to_all_ready_s"], r["update_to_all_updated_s"], r["node_added_to_pod_ready_s"]]
    axes[1].bar(labels, values)
    axes[1].set(ylabel="seconds", title=f"DaemonSet on {agents['nodes']} nodes")
    axes[1].tick_params(axis="x", labelsize=7)
    sc.save_figure(fig, "scale_nodes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--configured", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--keep-nodes", action="store_true", help="leave the engines running")
    args = parser.parse_args()
    t0 = time.monotonic()
    engines = sc.start_nodes(args.nodes + 1)
    sc.remove_managed(engines)
    result: dict[str, Any] = {"engines_started_s": round(time.monotonic() - t0, 1)}
    nodes, extra = engines[: args.nodes], engines[args.nodes]
    d = sc.new_daemon([(n.name, n.url) for n in nodes], "nodes", sc.SHIPPED_NODE_TIMING)
    d.start(timeout=180)
    try:
        result["rollout"] = rollout(d, args.nodes, extra)
        print(result, flush=True)
        result["idle_with_agents"] = {"nodes": args.nodes + 1, **idle_cpu(d, args.idle_seconds)}
        d.api("DELETE", "/apis/apps/v1/namespaces/default/daemonsets/agent")
        d.wait_for(lambda: not ds_latency.live(d, "agent"), timeout=300, what="agents gone")
    finally:
        d.stop(timeout=120)
        sc.remove_managed(engines)
    urls = [n.url for n in engines]
    result["idle_no_workload"] = [
        idle_daemon([(f"node{i}", urls[i % len(urls)]) for i in range(count)], args.idle_seconds)
        for count in sorted({1, args.nodes, args.configured})
    ]
    if not args.keep_nodes:
        dockernodes.stop_nodes(sc.nodes_dir())
    plot(result)
    r, agents, idle = result["rollout"], result["idle_with_agents"], result["idle_no_workload"]
    rows = [
        (f"DaemonSet apply -> {args.nodes} pods Ready", f"{r['apply_to_all_ready_s']} s", ""),
        (
            f"template update -> {args.nodes} pods updated",
            f"{r['update_to_all_updated_s']} s",
            f"{r['update_to_all_updated_s'] / args.nodes:.2f} s per node (maxUnavailable 1)",
        ),
        ("node added (SIGHUP) -> its pod Ready", f"{r['node_added_to_pod_ready_s']} s", ""),
        (
            f"daemon CPU at rest, {agents['nodes']} nodes with an agent each",
            f"{agents['cpu_s_per_min']} s/min",
            f"{agents['passes_per_min']} passes/min of {agents['pass_ms']} ms; RSS {agents['rss_mb']} MB",
        ),
    ]
    for p in idle:
        rows.append(
            (
                f"daemon CPU at rest, {p['nodes']} configured nodes, no workload",
                f"{p['cpu_s_per_min']} s/min",
                f"ratio {p['cpu_s_per_min'] / max(0.01, idle[0]['cpu_s_per_min']):.1f} to 1 node; "
                f"pass {p['pass_ms']} ms; RSS {p['rss_mb']} MB",
            )
        )
    notes = (
        f"{args.nodes + 1} engines on one machine. Past them, node names share engines round-robin "
        "(each name is probed and listed as its own node; no workload runs then)."
    )
    sc.write("scale_nodes", f"Shape 1: {args.nodes} nodes", rows, result, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
