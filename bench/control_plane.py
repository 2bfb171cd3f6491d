"""Control-plane figures at size: 1,000 CronJobs and 10,000 finished pods in history.

History is made from real records: a seed Job of 20 pods runs through the daemon,
the daemon is stopped, and its Job and pod records are cloned through the Store
into 10 finished Jobs of 1,000 pods each (names, uids and labels rewritten). The
daemon is started again on that database, 1,000 CronJobs that do not fire are
applied through the API, and its RSS / CPU and the latency of `ctl get` measured.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import statistics
import subprocess
import time
import uuid
from typing import Any

import cron_latency
import httpx
from support.daemon import MINIORCH, Daemon, job_yaml

from miniorch.store.store import Store

SEED = "hist-seed"


def _rewrite(value: Any, old: dict[str, str]) -> Any:
    text = json.dumps(value)
    for a, b in old.items():
        text = text.replace(a, b)
    return json.loads(text)


def seed_history(d: Daemon, jobs: int, pods_per_job: int) -> dict[str, Any]:
    """Run the seed Job, stop the daemon, clone its records into `jobs` Jobs of `pods_per_job` pods."""
    d.api(
        "POST", "/apply", json={"source": "bench", "text": job_yaml(SEED, "echo done", parallelism=10, completions=20)}
    )
    d.wait_job(SEED, timeout=300)
    d.wait_for(lambda: all(p["status"]["phase"] != "Running" for p in d.pods(SEED)), timeout=60, what="seed pods")
    time.sleep(2)  # the containers' cleanup is recorded
    d.stop()
    t0 = time.monotonic()
    store = Store(f"sqlite:///{d.workdir / 'state' / 'miniorch.db'}")
    try:
        seed = store.get_object("Job", "default", SEED)
        assert seed is not None
        template_pods = store.pods_of(seed.uid)
        base = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        for j in range(jobs):
            name = f"hist-{j}"
            uid = str(uuid.uuid4())
            old = {seed.uid: uid, SEED: name}
            status = _rewrite(seed.status, old) | {"succeeded": pods_per_job}
            manifest = _rewrite(seed.manifest, old)
            manifest["spec"]["completions"] = pods_per_job
            store.add_object(dataclasses.replace(seed, uid=uid, name=name, manifest=manifest, status=status))
            store.save_status(uid, status, finished=True)
            pods = []
            for i in range(pods_per_job):
                tp = template_pods[i % len(template_pods)]
                pods.append(
                    dataclasses.replace(
                        tp,
                        uid=str(uuid.uuid4()),
                        name=f"{name}-{i:05d}",
                        owner_name=name,
                        owner_uid=uid,
                        labels=_rewrite(tp.labels, old),
                        annotations=_rewrite(tp.annotations, old),
                        created_at=base + dt.timedelta(milliseconds=i),
                        container_removed=True,
                    )
                )
            store.save_pods(pods)
        total = sum(len(store.pods_of(o.uid)) for o in store.list_objects("Job"))
    finally:
        store.close()
    return {
        "jobs": jobs + 1,
        "pods": total,
        "seed_pod_log_bytes": len(template_pods[0].log_tail),
        "insert_s": round(time.monotonic() - t0, 1),
    }


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} exited {res.returncode}: {res.stderr[-500:]}")
    return elapsed


def _api_time(d: Daemon, path: str, params: dict[str, str] | None = None) -> tuple[float, int]:
    transport = httpx.HTTPTransport(uds=str(d.socket), verify=False)
    with httpx.Client(transport=transport, base_url="http://m", timeout=60, verify=False) as c:
        t0 = time.perf_counter()
        resp = c.get(path, params=params)
        elapsed = time.perf_counter() - t0
    resp.raise_for_status()
    return elapsed, len(resp.json()["items"])


def ctl_latency(d: Daemon, repeats: int = 5) -> dict[str, Any]:
    """Median wall time of `ctl` commands (a new process each, as a user runs them) and of the bare API calls."""
    env = {**os.environ, "MINIORCH_SOCKET": str(d.socket)}
    commands = {
        "ctl version": ["version"],
        "ctl get jobs": ["get", "jobs"],
        "ctl get pods -l job-name=hist-3": ["get", "pods", "-l", "job-name=hist-3"],
        "ctl get cronjobs": ["get", "cronjobs"],
        "ctl get pods (all)": ["get", "pods"],
    }
    out: dict[str, Any] = {}
    for label, args in commands.items():
        out[label] = round(statistics.median(_timed([MINIORCH, "ctl", *args], env) for _ in range(repeats)), 3)
    apis = {
        "GET /apis/batch/v1/jobs": ("/apis/batch/v1/jobs", None),
        "GET /api/v1/pods?labelSelector=job-name=hist-3": ("/api/v1/pods", {"labelSelector": "job-name=hist-3"}),
        "GET /api/v1/pods": ("/api/v1/pods", None),
    }
    for label, (path, params) in apis.items():
        runs = [_api_time(d, path, params) for _ in range(repeats)]
        out[label] = round(statistics.median(t for t, _ in runs), 3)
        out[f"{label} items"] = runs[0][1]
    return out


def measure(d: Daemon, cronjobs: int, idle_seconds: float) -> dict[str, Any]:
    """Start the daemon on the seeded database, add the CronJobs, measure; RSS also after the listings."""
    d.start(timeout=60)
    assert d.proc is not None
    pid = d.proc.pid
    idle = cron_latency.scale(d, cronjobs, idle_seconds)
    latency = ctl_latency(d)
    return {
        **idle,
        "rss_mb_after_listings": round(cron_latency._rss_mb(pid), 1),
        "ctl": latency,
    }
