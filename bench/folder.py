"""The watched folder: how fast a written file shows up, and how long 1,000 files take at start-up.

1. Latency: a file is written into the folder of a running daemon, then the API
   that `ctl get` reads is polled every 5 ms until the Job is there; median of N.
2. Start-up: N files are put in the folder, the daemon is started on an empty
   state (every Job created) and then again (every file unchanged); the daemon's
   own `manifests_loaded` figure and the time until the API serves are reported.
The Jobs are suspended, so only the folder path is measured, not containers.

    .venv/bin/python bench/folder.py [--writes 20] [--files 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import dockernodes  # noqa: E402
from support.daemon import Daemon, job_yaml  # noqa: E402


def suspended(name: str) -> str:
    return job_yaml(name, "true", extra_spec={"suspend": True})


def write_latency(d: Daemon, writes: int) -> list[float]:
    """Seconds from the start of a file write to the Job being served by the API."""
    out = []
    for i in range(writes):
        name = f"lat-{i:03}"
        start = time.perf_counter()
        (d.manifests / f"{name}.yaml").write_text(suspended(name))
        while d.job(name) is None:
            time.sleep(0.005)
        out.append(time.perf_counter() - start)
        time.sleep(0.3)  # separate writes, as a person would
    return out


def ctl_get_latency(d: Daemon) -> float:
    """The same, observed by polling `miniorch ctl get job NAME` (includes the CLI's own start-up)."""
    start = time.perf_counter()
    (d.manifests / "ctl-lat.yaml").write_text(suspended("ctl-lat"))
    while d.ctl("get", "job", "ctl-lat").returncode != 0:
        pass
    return time.perf_counter() - start


def startup(work: Path, node: dockernodes.DockerNode, files: int) -> dict[str, Any]:
    d = Daemon(work, [(node.name, node.url)], extra={"log": {"format": "json", "level": "info"}})
    for i in range(files):
        (d.manifests / f"job-{i:04}.yaml").write_text(suspended(f"job-{i:04}"))
    result: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        start = time.perf_counter()
        d.start(timeout=300)
        serving = time.perf_counter() - start
        loaded = [e for e in d.log_events() if e.get("event") == "manifests_loaded"][-1]
        jobs = len(d.api("GET", "/apis/batch/v1/jobs")["items"])
        d.stop()
        result[phase] = {"api_serving_s": serving, "folder_load_s": loaded["seconds"], "jobs": jobs}
        print(
            f"start-up with {files} files ({phase}): folder loaded in {loaded['seconds']:.2f}s, "
            f"API serving after {serving:.2f}s, {jobs} Jobs",
            flush=True,
        )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--nodes-dir", default=os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench-folder"))
    args = parser.parse_args()

    node = dockernodes.DockerNode("node0", Path(args.nodes_dir))
    started = not node.is_running()
    if started:
        node.start()
    dockernodes.ensure_test_image([node], dockernodes.TEST_IMAGE)
    try:
        d = Daemon(
            Path(tempfile.mkdtemp(prefix="miniorch-bench-folder-")),
            [(node.name, node.url)],
            extra={"log": {"format": "json", "level": "info"}},
        )
        d.start()
        try:
            latencies = write_latency(d, args.writes)
            via_ctl = ctl_get_latency(d)
        finally:
            d.stop()
        median = statistics.median(latencies)
        print(
            f"file write -> visible in the API: median {median * 1000:.0f} ms of {args.writes} "
            f"(min {min(latencies) * 1000:.0f}, max {max(latencies) * 1000:.0f}); "
            f"observed with `ctl get` polling: {via_ctl * 1000:.0f} ms",
            flush=True,
        )
        boot = startup(Path(tempfile.mkdtemp(prefix="miniorch-bench-folder-")), node, args.files)
    finally:
        if started:
            node.stop()
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "latency_s": latencies,
        "latency_median_s": median,
        "ctl_get_latency_s": via_ctl,
        "files": args.files,
        "startup": boot,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "folder.json").write_text(json.dumps(result, indent=2))
    (out / "folder.md").write_text(
        f"# Watched folder ({result['date']}, {result['cpus']} CPUs)\n\n"
        f"| figure | value |\n|---|---|\n"
        f"| file write -> Job served by the API, median of {args.writes} | {median * 1000:.0f} ms |\n"
        f"| same, seen by polling `ctl get` | {via_ctl * 1000:.0f} ms |\n"
        f"| start-up, {args.files} new files: folder loaded | {boot['cold']['folder_load_s']:.2f} s |\n"
        f"| start-up, {args.files} new files: API serving | {boot['cold']['api_serving_s']:.2f} s |\n"
        f"| restart, {args.files} unchanged files: folder loaded | {boot['warm']['folder_load_s']:.2f} s |\n"
        f"| restart, {args.files} unchanged files: API serving | {boot['warm']['api_serving_s']:.2f} s |\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
