"""Dashboard page load times with 1,000 Jobs in the store: the figure behind "the pages stay fast".

    .venv/bin/python bench/ui_pages.py [--jobs 1000] [--runs 21]

A CronJob and `--jobs` finished Jobs of it (one pod each) are written through the Store
(`controllers.cronjobs.create_job`, as the controller does, then their final status); the API app
with its dashboard is served by uvicorn on a unix socket, and each page is fetched `--runs`
times with httpx (after one warm-up). Printed: median and p90 wall seconds, the median CPU seconds (client and server
share the process: on a loaded machine read these) and the HTML size of
the overview, the Jobs list (page 1 and the last page), the CronJob's page (its timeline and
list of Jobs), and, to show what paging saves, the Jobs list with every row on one page.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from support.apiapp import CRONJOB_YAML, harness, serve  # noqa: E402
from support.uiseed import seed_runs  # noqa: E402

from miniorch.store.records import PodPhase, PodRecord  # noqa: E402
from miniorch.ui import views  # noqa: E402

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _pods(jobs: list[object]) -> list[PodRecord]:
    out = []
    for i, job in enumerate(jobs):
        assert hasattr(job, "uid") and hasattr(job, "name")
        at = T0 + dt.timedelta(minutes=i)
        out.append(
            PodRecord(
                uid=f"pod-{i}",
                name=f"{job.name}-abcde",
                namespace="default",
                owner_kind="Job",
                owner_name=job.name,
                owner_uid=job.uid,
                node="n1",
                phase=PodPhase.SUCCEEDED if i % 4 != 3 else PodPhase.FAILED,
                exit_code=0 if i % 4 != 3 else 1,
                created_at=at,
                started_at=at,
                finished_at=at + dt.timedelta(seconds=5),
                labels={"job-name": job.name},
                container_removed=True,
            )
        )
    return out


def _time(client: httpx.Client, path: str, runs: int) -> dict[str, float]:
    client.get(path).raise_for_status()  # warm-up: templates compiled, caches filled
    walls, cpus, size = [], [], 0
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        resp = client.get(path)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)  # server and client share this process
        resp.raise_for_status()
        size = len(resp.content)
    walls.sort()
    return {
        "median_s": statistics.median(walls),
        "p90_s": walls[int(len(walls) * 0.9) - 1],
        "cpu_median_s": statistics.median(cpus),
        "kib": size / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    last_page = -(-args.jobs // views.PAGE_SIZE)
    pages = {
        "overview": "/ui/",
        "jobs list, page 1": "/ui/k/jobs",
        f"jobs list, page {last_page}": f"/ui/k/jobs?page={last_page}",
        "cronjob page": "/ui/k/cronjobs/default/nightly",
    }
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, harness(Path(tmp)) as h:
        h.apply(CRONJOB_YAML)
        cj = h.store.get_object("CronJob", "default", "nightly")
        assert cj is not None
        started = time.perf_counter()
        jobs = seed_runs(h.store, h.ctx.applier, cj, args.jobs, T0)
        h.store.save_pods(_pods(list(jobs)))
        print(f"seeded {args.jobs} Jobs and pods in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        sock = Path(tmp) / "api.sock"
        with (
            serve(h.app, uds=str(sock)),
            httpx.Client(
                transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://miniorch", timeout=60
            ) as client,
        ):
            for label, path in pages.items():
                results[label] = _time(client, path, args.runs)
            views.PAGE_SIZE = args.jobs  # what a list without paging would cost
            results[f"jobs list, all {args.jobs} rows on one page"] = _time(client, "/ui/k/jobs", args.runs)
    for label, r in results.items():
        print(
            f"{label:42} median {r['median_s'] * 1000:7.1f} ms   p90 {r['p90_s'] * 1000:7.1f} ms   "
            f"CPU {r['cpu_median_s'] * 1000:7.1f} ms   {r['kib']:7.1f} KiB"
        )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)
    print(json.dumps({"jobs": args.jobs, "runs": args.runs, "pages": results}))


if __name__ == "__main__":
    main()
