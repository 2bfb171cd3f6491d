"""CronJob figures: fire latency, exactness under load, and the idle cost of many CronJobs.

1. latency: a `*/2 * * * * *` CronJob whose container is `true`; for each tick, the delay from
   the scheduled time to the container's Docker `State.StartedAt` (p50 / p99 / max).
2. exactness: 50 CronJobs every 10 s for 3 minutes; missed ticks and duplicate Jobs.
3. scale: 1,000 CronJobs that do not fire during the run; daemon RSS and CPU over 60 s.

    .venv/bin/python bench/cron_latency.py [--ticks 100] [--load-minutes 3] [--idle-seconds 60]

Nodes: $MINIORCH_TEST_NODES if set (./scripts/test-nodes.sh), else one node in $MINIORCH_BENCH_DIR.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import docker  # noqa: E402
import yaml  # noqa: E402
from support import dockernodes  # noqa: E402
from support.daemon import Daemon  # noqa: E402

IMAGE = dockernodes.TEST_IMAGE
SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def cronjob(name: str, schedule: str, command: list[str], history: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "successfulJobsHistoryLimit": history,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": IMAGE, "command": command}],
                        }
                    },
                }
            },
        },
    }


def apply(d: Daemon, objs: list[dict[str, Any]]) -> None:
    text = "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs)
    d.api("POST", "/apply", json={"source": "bench", "text": text})


def _docker_time(text: str) -> dt.datetime:
    head, _, frac = text.rstrip("Z").partition(".")
    micro = (frac + "000000")[:6]
    return dt.datetime.fromisoformat(f"{head}.{micro}+00:00")


class StartWatcher:
    """Docker `start` events of miniorch containers on every node, with State.StartedAt read at once."""

    def __init__(self, nodes: list[dockernodes.DockerNode]) -> None:
        self.starts: dict[str, dt.datetime] = {}  # job name -> container StartedAt
        self.fallbacks = 0
        self._clients = [docker.DockerClient(base_url=n.url, timeout=30) for n in nodes]
        self._streams: list[Any] = []
        self._threads = [threading.Thread(target=self._watch, args=(c,), daemon=True) for c in self._clients]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def _watch(self, client: docker.DockerClient) -> None:
        stream = client.events(decode=True, filters={"type": "container", "event": "start"})
        self._streams.append(stream)
        for ev in stream:
            attrs = ev.get("Actor", {}).get("Attributes", {})
            job = attrs.get("job-name")
            if not job:
                continue
            try:
                started = _docker_time(client.api.inspect_container(ev["id"])["State"]["StartedAt"])
            except docker.errors.NotFound:  # already recorded and removed: the event time is ~1 ms later
                started = dt.datetime.fromtimestamp(ev["timeNano"] / 1e9, dt.UTC)
                self.fallbacks += 1
            self.starts.setdefault(job, started)

    def close(self) -> None:
        for s in self._streams:
            s.close()
        for c in self._clients:
            c.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency(d: Daemon, nodes: list[dockernodes.DockerNode], ticks: int) -> dict[str, Any]:
    watcher = StartWatcher(nodes)
    watcher.start()
    time.sleep(0.5)
    apply(d, [cronjob("tick", "*/2 * * * * *", ["true"], history=1)])
    time.sleep(ticks * 2 + 3)
    d.api("DELETE", "/apis/batch/v1/namespaces/default/cronjobs/tick")
    watcher.close()
    delays = []
    for job, started in watcher.starts.items():
        if job.startswith("tick-"):
            scheduled = dt.datetime.fromtimestamp(int(job.rsplit("-", 1)[1]), dt.UTC)
            delays.append((started - scheduled).total_seconds())
    return {
        "ticks": len(delays),
        "p50_s": round(percentile(delays, 50), 3),
        "p99_s": round(percentile(delays, 99), 3),
        "max_s": round(max(delays), 3),
        "events_fallback": watcher.fallbacks,
    }


def exactness(d: Daemon, count: int, minutes: float) -> dict[str, Any]:
    applied = dt.datetime.now(dt.UTC)
    apply(d, [cronjob(f"load-{i}", "*/10 * * * * *", ["true"], history=100) for i in range(count)])
    time.sleep(minutes * 60)
    end = dt.datetime.now(dt.UTC)
    time.sleep(3)
    first = (int(applied.timestamp()) // 10 + 1) * 10
    last = (int(end.timestamp()) // 10) * 10
    expected = set(range(first, last + 1, 10))
    jobs = d.api("GET", "/apis/batch/v1/jobs")["items"]
    by_cj: dict[str, list[int]] = {f"load-{i}": [] for i in range(count)}
    complete = 0
    for job in jobs:
        owner = (job["metadata"].get("ownerReferences") or [{}])[0].get("name", "")
        if owner in by_cj:
            stamp = _docker_time(job["metadata"]["annotations"][SCHEDULED].replace("+00:00", "Z"))
            by_cj[owner].append(int(stamp.timestamp()))
            complete += any(c["type"] == "Complete" for c in job["status"].get("conditions", []))
    missed = sum(len(expected - set(v)) for v in by_cj.values())
    duplicates = sum(len(v) - len(set(v)) for v in by_cj.values())
    for i in range(count):
        d.api("DELETE", f"/apis/batch/v1/namespaces/default/cronjobs/load-{i}")
    d.wait_for(lambda: not d.api("GET", "/apis/batch/v1/jobs")["items"], timeout=180, what="load Jobs deleted")
    return {
        "cronjobs": count,
        "slots_per_cronjob": len(expected),
        "jobs": sum(len(v) for v in by_cj.values()),
        "complete": complete,
        "missed": missed,
        "duplicates": duplicates,
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scale(d: Daemon, count: int, seconds: float) -> dict[str, Any]:
    assert d.proc is not None
    pid = d.proc.pid
    for start in range(0, count, 100):  # one request per 100 objects keeps each under the client timeout
        apply(d, [cronjob(f"idle-{i}", "0 0 1 1 *", ["true"]) for i in range(start, min(count, start + 100))])
    time.sleep(5)
    cpu0, t0 = _cpu_seconds(pid), time.monotonic()
    peak = 0.0
    while time.monotonic() - t0 < seconds:
        peak = max(peak, _rss_mb(pid))
        time.sleep(1)
    cpu = (_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    listed = len(d.api("GET", "/apis/batch/v1/cronjobs")["items"])
    return {"cronjobs": listed, "rss_mb": round(peak, 1), "idle_cpu_percent": round(cpu * 100, 2), "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--load", type=int, default=50)
    parser.add_argument("--load-minutes", type=float, default=3)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--only", choices=["latency", "exactness", "scale"], action="append")
    args = parser.parse_args()

    env = os.environ.get(dockernodes.ENV_NODES)
    if env:
        nodes = dockernodes.parse_nodes_env(env)
    else:
        base = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench-cron"))
        nodes = [dockernodes.DockerNode("node0", base)]
        nodes[0].start()
        dockernodes.ensure_test_image(nodes, IMAGE)
    results: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "nodes": len(nodes)}
    parts = args.only or ["latency", "exactness", "scale"]
    for part in parts:
        work = Path(tempfile.mkdtemp(prefix=f"miniorch-cron-{part}-"))
        d = Daemon(work, [(n.name, n.url) for n in nodes], extra={"log": {"format": "json", "level": "info"}})
        d.start()
        try:
            if part == "latency":
                results["latency"] = latency(d, nodes, args.ticks)
            elif part == "exactness":
                results["exactness"] = exactness(d, args.load, args.load_minutes)
            else:
                results["scale"] = scale(d, args.idle, args.idle_seconds)
        finally:
            d.stop()
        print(json.dumps({part: results[part]}), flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / "cron_latest.json"
    previous = json.loads(path.read_text()) if path.exists() and args.only else {}
    path.write_text(json.dumps({**previous, **results}, indent=2) + "\n")  # --only updates its parts
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
