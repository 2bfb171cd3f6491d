"""A remote node over a slow link: 40 x `true`, parallelism 4, 20 ms added per direction.

One TCP Docker node behind the test suite's fault proxy in latency mode, side by
side in one run: the floor (Docker SDK through a proxy with the same delay:
create, start, wait, remove per container) and miniorch (one daemon whose only
node is reached through its own delaying proxy, shipped node timings; `apply`
until Complete). Alternates the systems, reports medians and the ratio, and the
Docker calls per pod that crossed each link (counted by the proxies; miniorch's
include its heartbeats and listings during the run).

    .venv/bin/python bench/proxy_latency.py [--completions 40] [--parallelism 4] [--delay-ms 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import dockernodes  # noqa: E402
from support.daemon import Daemon  # noqa: E402
from support.faultproxy import FaultProxy  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from job_throughput import floor_run, miniorch_run  # noqa: E402  (the same runs as the throughput bench)

IMAGE = dockernodes.TEST_IMAGE
NODE = "edge"


def per_pod(calls: Counter[str], pods: int, runs: int) -> dict[str, float]:
    return {key: round(n / (pods * runs), 2) for key, n in calls.most_common()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--completions", type=int, default=40)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="added to each direction")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--target", type=float, default=1.15)
    args = parser.parse_args()

    base = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench"))
    node = dockernodes.DockerNode("node0", base, tcp_port=dockernodes.free_port())
    node.stop()  # a leftover may listen on another port
    node.start()
    dockernodes.ensure_test_image([node], IMAGE)
    assert node.tcp_port is not None
    proxy = FaultProxy("127.0.0.1", node.tcp_port).start()  # the daemon's link
    floor_proxy = FaultProxy("127.0.0.1", node.tcp_port).start()  # the floor's, so each counts its own calls
    for link in (proxy, floor_proxy):
        link.latency(args.delay_ms)
    work = Path(tempfile.mkdtemp(prefix="miniorch-bench-"))
    timing = {"node_heartbeat_seconds": 2.0, "node_timeout_seconds": 10.0}  # the shipped ones, as bench/run.py
    d = Daemon(
        work,
        [],
        timing=timing,
        extra={
            "log": {"format": "json", "level": "info"},
            "nodes": [{"name": NODE, "url": proxy.url, "insecure": True}],
        },
    )
    d.start()
    floors: list[float] = []
    ours: list[float] = []
    floor_calls: Counter[str] = Counter()
    our_calls: Counter[str] = Counter()
    try:
        floor_run([floor_proxy.url], 4, 2, "warm")  # warm the engine's caches for both alike
        for run in range(args.runs):
            order = ["floor", "miniorch"] if run % 2 == 0 else ["miniorch", "floor"]
            for system in order:
                time.sleep(2)
                proxy.requests(reset=True)
                floor_proxy.requests(reset=True)
                if system == "floor":
                    floors.append(floor_run([floor_proxy.url], args.completions, args.parallelism, str(run)))
                    floor_calls += floor_proxy.requests(reset=True)
                else:
                    ours.append(miniorch_run(d, args.completions, args.parallelism, str(run), False))
                    our_calls += proxy.requests(reset=True)
                print(f"run {run + 1}: {system:8s} {(floors if system == 'floor' else ours)[-1]:6.2f}s", flush=True)
    finally:
        d.stop()
        proxy.stop()
        floor_proxy.stop()
        node.stop()
        node.remove_bridge()
    return report(args, floors, ours, floor_calls, our_calls)


def report(
    args: argparse.Namespace, floors: list[float], ours: list[float], floor_calls: Counter[str], our_calls: Counter[str]
) -> int:
    floor_m, ours_m = statistics.median(floors), statistics.median(ours)
    ratio = ours_m / floor_m
    shape = f"{args.completions}x{args.parallelism}"
    pods = args.completions
    ours_pp, floor_pp = per_pod(our_calls, pods, args.runs), per_pod(floor_calls, pods, args.runs)
    print(
        f"\n{shape} through a proxy adding {args.delay_ms:g} ms per direction, median of {args.runs}: "
        f"floor {floor_m:.2f}s, miniorch {ours_m:.2f}s, ratio {ratio:.3f} (target <= {args.target})\n"
        f"Docker calls per pod over the link: floor {sum(floor_pp.values()):.2f}, miniorch {sum(ours_pp.values()):.2f}"
    )
    for key, n in ours_pp.items():
        print(f"  miniorch {n:5.2f}  {key}")
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "shape": shape,
        "delay_ms_per_direction": args.delay_ms,
        "runs": args.runs,
        "floor_s": floors,
        "miniorch_s": ours,
        "floor_median_s": floor_m,
        "miniorch_median_s": ours_m,
        "ratio": ratio,
        "target": args.target,
        "calls_per_pod": {"floor": floor_pp, "miniorch": ours_pp},
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"proxy-latency-{shape}-{args.delay_ms:g}ms"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| `{key}` | {n:.2f} |" for key, n in ours_pp.items())
    (out / f"{stem}.md").write_text(
        f"# Through a delaying proxy ({result['date']})\n\n{result['cpus']} CPUs, Python {result['python']}; "
        f"one TCP node, {args.delay_ms:g} ms added per direction, median of {args.runs}\n\n"
        "| shape | floor (SDK) | miniorch | miniorch/floor | target |\n|---|---|---|---|---|\n"
        f"| {shape} | {floor_m:.2f}s | {ours_m:.2f}s | {ratio:.3f} | <= {args.target} |\n\n"
        f"Docker calls per pod over the link: floor {sum(floor_pp.values()):.2f}, "
        f"miniorch {sum(ours_pp.values()):.2f} (heartbeats and listings included)\n\n"
        f"| miniorch call | per pod |\n|---|---|\n{rows}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
