"""A serial Job as a user times it: 20 x `true`, parallelism 1, one node, from `ctl apply` to
`ctl wait --for=condition=Complete` returning, against the Docker SDK floor loop on that node.

Interleaved runs (floor, miniorch, miniorch, floor, ...), median and spread. Each miniorch run
is traced: the engine's own events (create, start, die: `timeNano`) seen by this bench, and the
daemon's log (debug: `docker_event` when it saw the exit, `pod_finished` when the run was
recorded, `pod_planned` when the next pod was saved), so the gap between one container's exit
and the next one's start is split into its steps. The floor's own gap (wait returning, remove,
create, start) is traced the same way.

    .venv/bin/python bench/serial_job.py [--completions 20] [--runs 5]

Writes bench/results/serial-job.md and .json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import docker  # noqa: E402
import probes  # noqa: E402
from support import dockernodes  # noqa: E402
from support.daemon import MINIORCH, Daemon, job_yaml  # noqa: E402

IMAGE = dockernodes.TEST_IMAGE
BASE = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench-serial"))
TARGET = 1.05
STEPS = ("exit seen", "recorded", "planned", "created", "started")


class EngineEvents:
    """The engine's create/start/die events, by container name: {action: unix seconds}."""

    def __init__(self, url: str) -> None:
        self._client = docker.DockerClient(base_url=url, timeout=None)
        self.seen: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        filters = {"type": "container", "event": ["create", "start", "die"]}
        self._stream = self._client.events(decode=True, filters=filters)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for ev in self._stream:
                name = ev.get("Actor", {}).get("Attributes", {}).get("name", "")
                with self._lock:
                    self.seen.setdefault(name, {})[ev.get("Action", "")] = ev["timeNano"] / 1e9
        except Exception:  # closed at the end
            return

    def of(self, prefix: str) -> dict[str, dict[str, float]]:
        time.sleep(0.3)  # the last events reach the stream
        with self._lock:
            return {k: dict(v) for k, v in self.seen.items() if k.startswith(prefix)}

    def close(self) -> None:
        self._stream.close()
        self._client.close()


def floor_run(url: str, completions: int, tag: str) -> float:
    """The SDK loop: create, start, wait, remove, one container after the other."""
    client = docker.DockerClient(base_url=url, timeout=60)
    api = client.api
    start = time.perf_counter()
    for i in range(completions):
        c = api.create_container(IMAGE, ["true"], name=f"floor-{tag}-{i}")
        api.start(c["Id"])
        api.wait(c["Id"])
        api.remove_container(c["Id"], force=True)
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def _ctl(d: Daemon, *args: str) -> None:
    env = {**os.environ, "MINIORCH_SOCKET": str(d.socket)}
    subprocess.run([MINIORCH, "ctl", *args], check=True, capture_output=True, env=env, timeout=300)


def miniorch_run(d: Daemon, completions: int, tag: str) -> tuple[float, dict[str, float]]:
    """`ctl apply -f` then `ctl wait`, timed as one; also when each returned."""
    name = f"bench-{tag}"
    path = d.workdir / f"{name}.yaml"
    path.write_text(job_yaml(name, "true", parallelism=1, completions=completions, container={"command": ["true"]}))
    t0 = time.time()
    start = time.perf_counter()
    _ctl(d, "apply", "-f", str(path))
    applied = time.time()
    _ctl(d, "wait", "--for=condition=Complete", f"job/{name}", "--timeout", "300s")
    elapsed = time.perf_counter() - start
    marks = {"start": t0, "applied": applied, "returned": time.time()}
    d.api("DELETE", f"/apis/batch/v1/namespaces/default/jobs/{name}")
    d.wait_for(lambda: d.job(name) is None, timeout=60, what="job deleted")
    return elapsed, marks


def _stamp(entry: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00")).timestamp()


def daemon_marks(d: Daemon, owner: str) -> tuple[dict[str, dict[str, float]], float | None]:
    """Per pod of `owner`: when the daemon saw its exit, recorded it, planned it; and the Job's end."""
    pods: dict[str, dict[str, float]] = {}
    finished = None
    for e in d.log_events():
        event, pod = e.get("event"), str(e.get("pod", ""))
        if event == "job_finished" and e.get("job") == owner:
            finished = _stamp(e)
        if not pod.startswith(owner + "-"):
            continue
        if event == "docker_event" and e.get("action") == "die":
            pods.setdefault(pod, {})["exit seen"] = _stamp(e)
        elif event == "pod_finished":
            pods.setdefault(pod, {})["recorded"] = _stamp(e)
        elif event == "pod_planned":
            pods.setdefault(pod, {})["planned"] = _stamp(e)
    return pods, finished


def breakdown(engine: dict[str, dict[str, float]], daemon: dict[str, dict[str, float]]) -> dict[str, list[float]]:
    """For each pod after the first: ms from the previous pod's exit to each step of this one."""
    order = sorted((v["start"], k) for k, v in engine.items() if "start" in v)
    out: dict[str, list[float]] = {step: [] for step in STEPS}
    for (_, prev), (_, pod) in zip(order, order[1:], strict=False):
        died = engine[prev].get("die")
        if died is None:
            continue
        marks = {
            "exit seen": daemon.get(prev, {}).get("exit seen"),
            "recorded": daemon.get(prev, {}).get("recorded"),
            "planned": daemon.get(pod, {}).get("planned"),
            "created": engine[pod].get("create"),
            "started": engine[pod].get("start"),
        }
        for step, at in marks.items():
            if at is not None:
                out[step].append(1000 * (at - died))
    return out


def floor_gaps(engine: dict[str, dict[str, float]]) -> list[float]:
    order = sorted((v["start"], k) for k, v in engine.items() if "start" in v)
    return [1000 * (engine[b]["start"] - engine[a]["die"]) for (_, a), (_, b) in zip(order, order[1:], strict=False)]


def run_all(d: Daemon, url: str, args: argparse.Namespace) -> dict[str, Any]:
    events = EngineEvents(url)
    floor_s: list[float] = []
    ours_s: list[float] = []
    steps: dict[str, list[float]] = {step: [] for step in STEPS}
    floor_gap: list[float] = []
    tail: dict[str, list[float]] = {"apply returned": [], "complete -> wait returned": []}
    cpu: list[float] = []
    assert d.proc is not None
    try:
        floor_run(url, 3, "warm")
        miniorch_run(d, 3, "warm")
        for run in range(args.runs):
            order = ("floor", "miniorch") if run % 2 == 0 else ("miniorch", "floor")
            for system in order:
                time.sleep(args.settle)
                if system == "floor":
                    floor_s.append(floor_run(url, args.completions, f"r{run}"))
                    floor_gap += floor_gaps(events.of(f"floor-r{run}-"))
                else:
                    cpu0 = probes.process_cpu(d.proc.pid)
                    took, marks = miniorch_run(d, args.completions, f"r{run}")
                    cpu.append(1000 * (probes.process_cpu(d.proc.pid) - cpu0) / args.completions)
                    ours_s.append(took)
                    pods, finished = daemon_marks(d, f"bench-r{run}")
                    for step, values in breakdown(events.of(f"bench-r{run}-"), pods).items():
                        steps[step] += values
                    tail["apply returned"].append(1000 * (marks["applied"] - marks["start"]))
                    if finished is not None:
                        tail["complete -> wait returned"].append(1000 * (marks["returned"] - finished))
                print(f"run {run + 1}: {system:8s} {(floor_s if system == 'floor' else ours_s)[-1]:6.2f}s", flush=True)
    finally:
        events.close()
    return {
        "floor_s": floor_s,
        "miniorch_s": ours_s,
        "pair_ratios": [o / f for o, f in zip(ours_s, floor_s, strict=True)],
        "ratio": statistics.median(ours_s) / statistics.median(floor_s),
        "steps_ms": steps,
        "floor_gap_ms": floor_gap,
        "cli_ms": tail,
        "daemon_cpu_ms_per_pod": cpu,
    }


def report(args: argparse.Namespace, r: dict[str, Any]) -> str:
    lines = [
        f"# Serial Job, {args.completions} x `true`, parallelism 1, one node "
        f"({dt.datetime.now(dt.UTC).isoformat(timespec='seconds')})",
        "",
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f} at the end; "
        f"{args.runs} interleaved runs, median [min-max]; `bench/serial_job.py`",
        "",
        "| floor (SDK loop) | miniorch (`ctl apply` + `ctl wait`) | miniorch/floor (per run pair) | target "
        "| daemon CPU ms/pod |",
        "|---|---|---|---|---|",
        f"| {probes.fmt(r['floor_s'])} s | {probes.fmt(r['miniorch_s'])} s | {r['ratio']:.3f} "
        f"({probes.fmt(r['pair_ratios'], 3)}) | <= {TARGET} | {probes.fmt(r['daemon_cpu_ms_per_pod'], 1)} |",
        "",
        "From one pod's container exit (the engine's `die`) to each step of the next pod, ms "
        "(median [min-max] over every pod of every run):",
        "",
        "| step | ms after the previous exit | this step alone |",
        "|---|---|---|",
    ]
    previous: list[float] | None = None
    for step in STEPS:
        values = r["steps_ms"][step]
        if not values:
            continue
        alone = [b - a for a, b in zip(previous, values, strict=False)] if previous else values
        lines.append(f"| {step} | {probes.fmt(values, 1)} | {probes.fmt(alone, 1)} |")
        previous = values
    lines += [
        f"| floor: exit -> next start (wait returns, remove, create, start) | {probes.fmt(r['floor_gap_ms'], 1)} | |",
        "",
        "The CLI's share, ms: " + "; ".join(f"{k} {probes.fmt(v, 0)}" for k, v in r["cli_ms"].items() if v),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--completions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=2.0, help="pause before each timed run, s")
    args = parser.parse_args()
    nodes = dockernodes.start_nodes(1, BASE)
    dockernodes.ensure_test_image(nodes)
    work = Path(tempfile.mkdtemp(prefix="miniorch-bench-serial-"))
    timing = {"node_heartbeat_seconds": 2, "node_timeout_seconds": 10}  # the shipped ones
    d = Daemon(
        work, [(nodes[0].name, nodes[0].url)], timing=timing, extra={"log": {"format": "json", "level": "debug"}}
    )
    d.start(timeout=90)  # a loaded machine takes a while to import it all
    try:
        result = run_all(d, nodes[0].url, args)
    finally:
        d.stop()
        for node in nodes:
            node.stop()
            node.remove_bridge()
    text = report(args, result)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "serial-job.json").write_text(
        json.dumps({"completions": args.completions, "runs": args.runs, **result}, indent=2)
    )
    (out / "serial-job.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
