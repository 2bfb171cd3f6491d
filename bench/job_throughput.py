"""Batch throughput: a Job of C containers that exit 0 at once, P at a time, over N nodes.

Side by side in one run on the same Docker node: the floor (Docker SDK, a pool of
P threads doing create, start, wait, remove) and miniorch (`apply` until Complete).
Alternates the systems, reports the median makespan of N runs and the ratio.

    .venv/bin/python bench/job_throughput.py [--completions 40] [--parallelism 4] [--runs 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import docker  # noqa: E402
from support import dockernodes  # noqa: E402
from support.daemon import Daemon, job_yaml  # noqa: E402

IMAGE = dockernodes.TEST_IMAGE


def floor_run(urls: list[str], completions: int, parallelism: int, tag: str) -> float:
    """The Docker SDK directly: a pool of `parallelism` threads, containers round-robin over the nodes."""
    clients = [docker.DockerClient(base_url=url, timeout=60) for url in urls]

    def one(i: int) -> None:
        api = clients[i % len(clients)].api
        c = api.create_container(IMAGE, ["true"], name=f"floor-{tag}-{i}")
        api.start(c["Id"])
        api.wait(c["Id"])
        api.remove_container(c["Id"], force=True)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(parallelism) as pool:
        list(pool.map(one, range(completions)))
    elapsed = time.perf_counter() - start
    for client in clients:
        client.close()
    return elapsed


def miniorch_run(d: Daemon, completions: int, parallelism: int, tag: str, indexed: bool) -> float:
    name = f"bench-{tag}"
    extra = {"completionMode": "Indexed"} if indexed else {}
    text = job_yaml(
        name,
        "true",
        parallelism=parallelism,
        completions=completions,
        container={"command": ["true"]},
        extra_spec=extra,
    )
    start = time.perf_counter()
    d.api("POST", "/apply", json={"source": "bench", "text": text})
    while True:
        job = d.job(name)
        if job and any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"].get("conditions", [])):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    d.api("DELETE", f"/apis/batch/v1/namespaces/default/jobs/{name}")
    d.wait_for(lambda: d.job(name) is None, timeout=60, what="job deleted")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--completions", type=int, default=40)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--indexed", action="store_true", help="run the Job in Indexed completion mode")
    parser.add_argument("--target", type=float, default=1.15)
    args = parser.parse_args()

    base = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench"))
    nodes = dockernodes.start_nodes(args.nodes, base)
    dockernodes.ensure_test_image(nodes, IMAGE)
    urls = [n.url for n in nodes]
    work = Path(tempfile.mkdtemp(prefix="miniorch-bench-"))
    timing = {"node_heartbeat_seconds": 2, "node_timeout_seconds": 10}  # the shipped ones, as bench/run.py
    d = Daemon(
        work, [(n.name, n.url) for n in nodes], timing=timing, extra={"log": {"format": "json", "level": "info"}}
    )
    d.start()
    floors: list[float] = []
    ours: list[float] = []
    docker_ver = docker_version(urls[0])
    try:
        floor_run(urls, 4, 2, "warm")  # warm the engines' caches for both alike
        for run in range(args.runs):
            order = [("floor", floors), ("miniorch", ours)]
            if run % 2:
                order.reverse()
            for system, sink in order:
                if system == "floor":
                    sink.append(floor_run(urls, args.completions, args.parallelism, str(run)))
                else:
                    sink.append(miniorch_run(d, args.completions, args.parallelism, str(run), args.indexed))
                print(f"run {run + 1}: {system:8s} {sink[-1]:6.2f}s", flush=True)
    finally:
        d.stop()
        for node in nodes:
            node.stop()
    floor_m, ours_m = statistics.median(floors), statistics.median(ours)
    ratio = ours_m / floor_m
    shape = f"{args.completions}x{args.parallelism}"
    print(
        f"\nshape {shape} on {args.nodes} node(s), median of {args.runs}: floor {floor_m:.2f}s, miniorch {ours_m:.2f}s, "
        f"ratio {ratio:.3f} (target <= {args.target})"
    )
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "docker": docker_ver,
        "shape": shape,
        "runs": args.runs,
        "floor_s": floors,
        "miniorch_s": ours,
        "floor_median_s": floor_m,
        "miniorch_median_s": ours_m,
        "ratio": ratio,
        "target": args.target,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"throughput-{args.completions}x{args.parallelism}-{args.nodes}n" + ("-indexed" if args.indexed else "")
    # Its own files: bench/run.py owns latest.md and latest.json.
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    (out / f"{stem}.md").write_text(
        f"# Batch throughput ({result['date']})\n\n{result['cpus']} CPUs, Python {result['python']}, "
        f"Docker {result['docker']}\n\n| shape | floor (SDK) | miniorch | miniorch/floor | target |\n"
        f"|---|---|---|---|---|\n| {shape}{' Indexed' if args.indexed else ''}, {args.nodes} node(s) | {floor_m:.2f}s | {ours_m:.2f}s | {ratio:.3f} | <= {args.target} |\n"
    )
    return 0


def docker_version(url: str) -> str:
    client = docker.DockerClient(base_url=url, timeout=10)
    try:
        return str(client.version().get("Version"))
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
