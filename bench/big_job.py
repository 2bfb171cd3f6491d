"""A big Indexed Job: C completions of `true`, parallelism 20, across 3 nodes, against the Docker
SDK floor (20 threads, round-robin over the same 3 nodes); for several sizes, to show how the
daemon's CPU per pod and its memory grow with the Job.

    .venv/bin/python bench/big_job.py [--sizes 100,1000,2000] [--floor-sizes 2000] [--runs 1] [--py-spy DIR]
    .venv/bin/python bench/big_job.py --fake-nodes --sizes 100,1000,2000   # the daemon's logic alone, in seconds

Per size and run: makespan of each system, the daemon's CPU (from /proc) per pod, its RSS
after the run and its peak, and its reconcile passes (from /metrics); for the floor, the CPU
its own client threads (docker-py, the SDK the daemon uses too) spend per container. The daemon is polled
every --poll seconds (0.5 by default: a 20 Hz poller costs the daemon about 2 ms of CPU per
read, which would be counted as its per-pod cost). Floor and miniorch alternate, one daemon for
all sizes (its RSS is what the history so far left). Writes bench/results/big-job.md, .json
and big-job.png (matplotlib, `pip install -e .[bench]`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import job_throughput  # noqa: E402
import probes  # noqa: E402
from support import dockernodes  # noqa: E402
from support.daemon import Daemon, job_yaml  # noqa: E402

BASE = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench-big"))
RATIO_TARGET = 1.05
CPU_TARGET_MS = 5.0


def passes(d: Daemon) -> float:
    text = d.api("GET", "/metrics")
    return probes.metric_values(text, "miniorch_reconcile_pass_duration_seconds_count").get("", 0.0)


def spy(d: Daemon, out: Path | None) -> subprocess.Popen[bytes] | None:
    """A py-spy GIL profile (raw) of the daemon into `out`, until the returned process is interrupted."""
    if out is None or d.proc is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    cmd = [py_spy, "record", "-p", str(d.proc.pid), "-r", "200", "-f", "raw", "--gil", "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # attached
    return proc


def miniorch_run(
    d: Daemon, completions: int, parallelism: int, tag: str, poll: float, profile: Path | None = None
) -> dict[str, float]:
    name = f"big-{tag}"
    text = job_yaml(
        name,
        "true",
        parallelism=parallelism,
        completions=completions,
        container={"command": ["true"]},
        extra_spec={"completionMode": "Indexed"},
    )
    assert d.proc is not None
    profiler = spy(d, profile)
    cpu0, p0 = probes.process_cpu(d.proc.pid), passes(d)
    start = time.perf_counter()
    d.api("POST", "/apply", json={"source": "bench", "text": text})
    while True:
        job = d.job(name)
        if job and any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"].get("conditions", [])):
            break
        time.sleep(poll)
    took = time.perf_counter() - start
    cpu = probes.process_cpu(d.proc.pid) - cpu0
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait()
    rss, peak = probes.process_rss(d.proc.pid)
    sample = {
        "seconds": took,
        "cpu_ms_per_pod": 1000 * cpu / completions,
        "rss_mib": rss,
        "peak_rss_mib": peak,
        "passes_per_pod": (passes(d) - p0) / completions,
    }
    d.api("DELETE", f"/apis/batch/v1/namespaces/default/jobs/{name}")
    d.wait_for(lambda: d.job(name) is None, timeout=600, what="job deleted")
    return sample


def idle_cpu(d: Daemon, seconds: float, poll: float, profile: Path | None = None) -> float:
    """The daemon's CPU seconds per second with no Job, polled as during a run: what time alone
    costs (heartbeats, the 2 s resync's listings, the bench's reads), counted in each run's CPU."""
    assert d.proc is not None
    profiler = spy(d, profile)
    cpu0, start = probes.process_cpu(d.proc.pid), time.perf_counter()
    while time.perf_counter() - start < seconds:
        d.job("none")
        time.sleep(poll)
    rate = (probes.process_cpu(d.proc.pid) - cpu0) / (time.perf_counter() - start)
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait()
    return rate


def measure(d: Daemon, urls: list[str], args: argparse.Namespace) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    job_throughput.floor_run(urls, 10, 5, "warm")
    miniorch_run(d, 10, 5, "warm", args.poll)
    if args.idle:
        args.idle_rate = idle_cpu(d, args.idle, args.poll, args.py_spy / "idle.txt" if args.py_spy else None)
        print(f"idle: daemon CPU {1000 * args.idle_rate:.1f} ms/s", flush=True)
    for size in args.sizes:
        floor: list[float] = []
        floor_cpu: list[float] = []
        ours: list[dict[str, float]] = []
        for run in range(args.runs):
            order = ("floor", "miniorch") if run % 2 == 0 else ("miniorch", "floor")
            for system in order:
                if system == "floor" and size not in args.floor_sizes:
                    continue
                time.sleep(args.settle)
                if system == "floor":
                    cpu0 = time.process_time()  # this process: the SDK floor's 20 client threads
                    floor.append(job_throughput.floor_run(urls, size, args.parallelism, f"b{size}-{run}"))
                    floor_cpu.append(1000 * (time.process_time() - cpu0) / size)
                    print(f"{size}: floor    {floor[-1]:7.1f}s  client cpu/pod {floor_cpu[-1]:.2f} ms", flush=True)
                else:
                    profile = args.py_spy / f"big-{size}-{run}.txt" if args.py_spy else None
                    ours.append(miniorch_run(d, size, args.parallelism, f"{size}-{run}", args.poll, profile))
                    s = ours[-1]
                    print(
                        f"{size}: miniorch {s['seconds']:7.1f}s  cpu/pod {s['cpu_ms_per_pod']:.2f} ms  "
                        f"rss {s['rss_mib']:.0f} MiB (peak {s['peak_rss_mib']:.0f})  passes/pod {s['passes_per_pod']:.2f}",
                        flush=True,
                    )
        out[size] = {"floor_s": floor, "floor_cpu_ms_per_pod": floor_cpu, "miniorch": ours}
        save(args, out)  # after each size: a long run stopped early keeps what it measured
    return out


def report(args: argparse.Namespace, results: dict[int, dict[str, Any]]) -> str:
    lines = [
        f"# Big Indexed Job, parallelism {args.parallelism}, 3 nodes ({dt.datetime.now(dt.UTC).isoformat(timespec='seconds')})",
        "",
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f} at the end; "
        f"{args.runs} run(s) per size, median [min-max]; daemon polled every {args.poll} s; `bench/big_job.py`",
        "",
        *(
            [f"Idle daemon (no Job, polled the same way): {1000 * args.idle_rate:.1f} ms of CPU per second.", ""]
            if getattr(args, "idle_rate", None) is not None
            else []
        ),
        "| completions | floor (SDK, 20 threads) | miniorch | miniorch/floor | daemon CPU ms/pod | of it, idle rate x run "
        "| the floor's client CPU ms/pod | RSS after, MiB | peak RSS, MiB | passes/pod |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    idle_rate = getattr(args, "idle_rate", None)
    for size, r in results.items():
        ours = r["miniorch"]
        secs = [s["seconds"] for s in ours]
        ratio = f"{statistics.median(secs) / statistics.median(r['floor_s']):.3f}" if r["floor_s"] else "-"
        floor = f"{probes.fmt(r['floor_s'], 1)} s" if r["floor_s"] else "-"
        floor_cpu = probes.fmt(r["floor_cpu_ms_per_pod"]) if r.get("floor_cpu_ms_per_pod") else "-"
        lines.append(
            f"| {size} | {floor} | {probes.fmt(secs, 1)} s | {ratio} | "
            f"{probes.fmt([s['cpu_ms_per_pod'] for s in ours])} | "
            f"{probes.fmt([1000 * idle_rate * s['seconds'] / size for s in ours]) if idle_rate is not None else '-'} | "
            f"{floor_cpu} | {probes.fmt([s['rss_mib'] for s in ours], 0)} | "
            f"{probes.fmt([s['peak_rss_mib'] for s in ours], 0)} | {probes.fmt([s['passes_per_pod'] for s in ours])} |"
        )
    lines += ["", f"Targets: miniorch/floor <= {RATIO_TARGET} at 2,000; daemon CPU <= {CPU_TARGET_MS} ms per pod.", ""]
    return "\n".join(lines)


def plot(results: dict[int, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    if not sizes:
        return  # an idle-only run (--sizes ''): nothing to draw
    cpu = [statistics.median(s["cpu_ms_per_pod"] for s in results[n]["miniorch"]) for n in sizes]
    rss = [statistics.median(s["rss_mib"] for s in results[n]["miniorch"]) for n in sizes]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(sizes, cpu, "o-", color="tab:blue", label="daemon CPU per pod")
    left.axhline(CPU_TARGET_MS, color="tab:blue", linestyle=":", label=f"target {CPU_TARGET_MS} ms")
    left.set_xscale("log")
    left.set_xlabel("completions (Indexed Job, parallelism 20, 3 nodes)")
    left.set_ylabel("CPU ms per pod", color="tab:blue")
    right = left.twinx()
    right.plot(sizes, rss, "s--", color="tab:red", label="daemon RSS after the run")
    right.set_ylabel("RSS MiB", color="tab:red")
    fig.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88))
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def save(args: argparse.Namespace, results: dict[int, dict[str, Any]]) -> str:
    text = report(args, results)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "big-job.json").write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    (out / "big-job.md").write_text(text + "\n![CPU per pod and RSS against the Job's size](big-job.png)\n")
    try:
        plot(results, out / "big-job.png")
    except ImportError:
        print("matplotlib is missing: no plot (pip install -e '.[bench]')")
    return text


def fake_nodes_run(size: int, parallelism: int) -> float:
    """The daemon's logic alone: the pod controllers of the component tier (tests/component/cluster.py:
    WorkloadController, PodRunner, PodSync, the Job planner, a real SQLite store) in this process,
    against 3 fake nodes whose containers end 5 ms after their start; returns CPU ms per pod."""
    import asyncio

    from component.cluster import Cluster

    from miniorch import logs

    async def scenario() -> float:
        c = Cluster(Path(tempfile.mkdtemp(prefix="miniorch-bench-fake-")), ("node0", "node1", "node2"))
        loop = asyncio.get_running_loop()
        for node in c.nodes.values():
            start = node.start

            def started(name: str, node: Any = node, start: Any = start) -> None:
                start(name)
                loop.call_later(0.005, lambda: name in node.containers and node.finish(name, 0))

            node.start = started  # type: ignore[method-assign]
        try:
            cpu0 = time.process_time()
            c.apply("big", completions=size, parallelism=parallelism, extra_spec={"completionMode": "Indexed"})
            await c.wait_for("the Job complete", lambda: c.complete("big"), timeout=3600)
            cpu = 1000 * (time.process_time() - cpu0) / size
            rss, peak = probes.process_rss(os.getpid())
            print(f"{size}: fake nodes, in process: RSS {rss:.0f} MiB after (peak {peak:.0f})", flush=True)
            return cpu
        finally:
            await c.stop()
            c.store.close()

    with open(os.devnull, "w") as sink:
        logs.configure("json", "info", sink)  # as the daemon logs, to nowhere
        return asyncio.run(scenario())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,2000")
    parser.add_argument("--floor-sizes", default="2000", help="sizes that also run the floor")
    parser.add_argument("--parallelism", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument(
        "--idle", type=float, default=20.0, help="seconds of idle daemon CPU to measure first (0: none)"
    )
    parser.add_argument("--py-spy", type=Path, help="write a GIL profile (py-spy raw) of each miniorch run here")
    parser.add_argument(
        "--fake-nodes", action="store_true", help="only the daemon's logic, in this process, against fake nodes"
    )
    args = parser.parse_args()
    args.sizes = [int(x) for x in args.sizes.split(",") if x]
    args.floor_sizes = {int(x) for x in args.floor_sizes.split(",") if x}
    if args.fake_nodes:
        for size in args.sizes:
            print(f"{size}: fake nodes, in process: {fake_nodes_run(size, args.parallelism):.2f} ms of CPU per pod")
        return 0
    nodes = dockernodes.start_nodes(3, BASE)
    dockernodes.ensure_test_image(nodes)
    work = Path(tempfile.mkdtemp(prefix="miniorch-bench-big-"))
    timing = {"node_heartbeat_seconds": 2, "node_timeout_seconds": 10}  # the shipped ones
    d = Daemon(
        work, [(n.name, n.url) for n in nodes], timing=timing, extra={"log": {"format": "json", "level": "info"}}
    )
    d.start(timeout=90)  # a loaded machine takes a while to import it all
    try:
        results = measure(d, [n.url for n in nodes], args)
    finally:
        d.stop()
        for node in nodes:
            node.stop()
            node.remove_bridge()
    text = save(args, results)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
