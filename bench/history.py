"""Shape 4, history: a year of finished work in the store, and what it costs the daemon.

1. Finished Jobs of 5 pods each are written through the Store API (a normalized Job manifest,
   a Complete status, pods Succeeded with a 1 KiB log tail, containers removed) in steps up to
   --pods finished pods (default 100,000, so 20,000 Jobs). At each step the daemon starts on that
   database with the same live work (a DaemonSet pod and a Job of 2 sleeping pods on one node) and
   the bench measures: reconcile pass time (its /metrics histogram over --window seconds),
   `ctl get jobs`, `ctl get pods -l job-name=X` (median of 5, a new process each, as a user runs
   them) and the daemon's RSS.
2. --cron-runs CronJob runs (default 10,000: 100 CronJobs on `* * * * *` for 100 minutes of a fake
   clock) through the real CronJob controller in-process with the default history limits: each
   Job it creates gets a finished pod and a Complete status, the Jobs it deletes are deleted as
   the Job controller does; the database size is sampled every 1,000 runs (bounded or not).

    .venv/bin/python bench/history.py [--pods 100000] [--window 30] [--cron-runs 10000]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any

import scale_common as sc
from support.daemon import Daemon, job_yaml

from miniorch.clock import FakeClock
from miniorch.config import PolicyConfig
from miniorch.controllers import objects
from miniorch.controllers.cronjobs import CronJobController
from miniorch.controllers.objects import Applier
from miniorch.spec import loader
from miniorch.store.records import ObjectRecord, PodPhase, PodRecord
from miniorch.store.store import Store

PODS_PER_JOB = 5
LOG = "".join(f"line {i}: processed batch {i} of the nightly export\n" for i in range(24))[:1024]
LIVE = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: a, image: miniorch.local/busybox:latest, command: [sleep, "3600"]}]
"""


def _ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _template() -> dict[str, Any]:
    text = job_yaml("hist-0", "echo done", parallelism=PODS_PER_JOB, completions=PODS_PER_JOB)
    return objects.normalized(loader.load_text(text, "history.yaml")[0])


def finished_job(template: dict[str, Any], index: int, at: dt.datetime) -> tuple[ObjectRecord, list[PodRecord]]:
    name, uid = f"hist-{index}", str(uuid.uuid4())
    manifest = copy.deepcopy(template)
    manifest["metadata"].update(name=name, uid=uid, creationTimestamp=_ts(at), generation=1)
    done = at + dt.timedelta(seconds=3)
    status: dict[str, Any] = {
        "active": 0,
        "succeeded": PODS_PER_JOB,
        "failed": 0,
        "ready": 0,
        "terminating": 0,
        "startTime": _ts(at),
        "completionTime": _ts(done),
        "conditions": [
            {
                "type": t,
                "status": "True",
                "lastProbeTime": _ts(done),
                "lastTransitionTime": _ts(done),
                "reason": "CompletionsReached",
                "message": "Reached expected number of succeeded pods",
            }
            for t in ("SuccessCriteriaMet", "Complete")
        ],
    }
    job = ObjectRecord(uid, "Job", "default", name, manifest, status, "api", 1, created_at=at)
    labels = {
        "job-name": name,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "batch.kubernetes.io/controller-uid": uid,
    }
    pods = [
        PodRecord(
            str(uuid.uuid4()),
            f"{name}-{uuid.uuid4().hex[:5]}",
            "default",
            "Job",
            name,
            uid,
            "node0",
            PodPhase.SUCCEEDED,
            exit_code=0,
            created_at=at,
            started_at=at,
            finished_at=done,
            labels=labels,
            log_tail=LOG,
            container_removed=True,
            run_started_at=at,
        )
        for _ in range(PODS_PER_JOB)
    ]
    return job, pods


def seed(url: str, first: int, count: int) -> float:
    """Write Jobs hist-<first>..hist-<first+count-1> (finished, 5 pods each); seconds taken."""
    t0 = time.monotonic()
    store = Store(url)
    template = _template()
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    try:
        batch: list[PodRecord] = []
        for i in range(first, first + count):
            job, pods = finished_job(template, i, base + dt.timedelta(minutes=i))
            store.add_object(job)
            store.save_status(job.uid, job.status, finished=True)
            batch += pods
            if len(batch) >= 2000:
                store.save_pods(batch)
                batch = []
        store.save_pods(batch)
    finally:
        store.close()
    return time.monotonic() - t0


def measure(d: Daemon, window: float, job: str) -> dict[str, Any]:
    """Start the daemon on its database, let the live work settle, measure, stop it."""
    d.start(timeout=180)
    assert d.proc is not None
    pid = d.proc.pid
    try:
        d.wait_for(
            lambda: (
                len(
                    [
                        p
                        for p in d.api("GET", "/api/v1/pods", params={"labelSelector": "app=agent"})["items"]
                        if p["status"]["phase"] == "Running"
                    ]
                )
                == 1
            ),
            timeout=120,
            what="agent running",
        )
        time.sleep(3)
        rss_idle = sc.rss_mb(pid)
        n0, s0 = sc.pass_stats(d)
        cpu0 = sc.cpu_seconds(pid)
        time.sleep(window)
        n1, s1 = sc.pass_stats(d)
        cpu = sc.cpu_seconds(pid) - cpu0
        out: dict[str, Any] = {
            "passes": int(n1 - n0),
            "pass_ms": round(1000 * (s1 - s0) / max(1.0, n1 - n0), 2),
            "idle_cpu_percent": round(100 * cpu / window, 2),
            "rss_mb_idle": round(rss_idle, 1),
        }
        for key, args in (
            ("jobs", ("get", "jobs")),
            ("pods_l", ("get", "pods", "-l", f"job-name={job}")),
            ("version", ("version",)),
        ):
            try:
                cost = sc.median_cost(d, *args, runs=3)
            except RuntimeError as exc:  # e.g. the ctl's own timeout: recorded, the other figures still taken
                print(f"ctl {' '.join(args)}: {exc}", flush=True)
                cost = {"wall_s": float("nan"), "ctl_cpu_s": float("nan"), "daemon_cpu_s": float("nan")}
            out[f"ctl_get_{key}_s" if key != "version" else "ctl_version_s"] = cost["wall_s"]
            out[f"ctl_{key}_cpu_s"] = round(cost["ctl_cpu_s"] + cost["daemon_cpu_s"], 3)
        out["rss_mb_after_listings"] = round(sc.rss_mb(pid), 1)
    finally:
        d.stop(timeout=120)
    return out


def reuse_point(workdir: Path, window: float) -> list[dict[str, Any]]:
    """One point on the database of an earlier run's daemon folder (no seeding)."""
    nodes = sc.start_nodes(1)
    d = Daemon(
        workdir,
        [(n.name, n.url) for n in nodes],
        timing=sc.SHIPPED_NODE_TIMING,
        extra={"log": {"format": "json", "level": "info"}},
    )
    store = Store(f"sqlite:///{workdir / 'state' / 'miniorch.db'}")
    jobs, pods = len(store.object_index()) - 2, len(store.list_pods(with_log=False))
    store.close()
    point = {"finished_pods": pods - 3, "finished_jobs": jobs, "seed_s": 0.0}
    point |= measure(d, window, f"hist-{jobs // 2}")
    point["db_mb"] = round(_db_bytes(workdir / "state" / "miniorch.db") / 2**20, 1)
    print(point, flush=True)
    sc.remove_managed(nodes)
    return [point]


def history_points(steps: list[int], window: float) -> list[dict[str, Any]]:
    nodes = sc.start_nodes(1)
    d = sc.new_daemon([(n.name, n.url) for n in nodes], "history", sc.SHIPPED_NODE_TIMING)
    url = f"sqlite:///{d.workdir / 'state' / 'miniorch.db'}"
    d.start(timeout=180)
    d.apply(LIVE)
    d.apply(job_yaml("live", "sleep 3600", parallelism=2, completions=2))
    d.stop(timeout=120)
    points, have = [], 0
    try:
        for pods in steps:
            jobs = pods // PODS_PER_JOB
            seeded = seed(url, have, jobs - have) if jobs > have else 0.0
            have = jobs
            point = {"finished_pods": pods, "finished_jobs": jobs, "seed_s": round(seeded, 1)}
            point |= measure(d, window, f"hist-{max(0, jobs // 2)}")
            point["db_mb"] = round(_db_bytes(d.workdir / "state" / "miniorch.db") / 2**20, 1)
            print(point, flush=True)
            points.append(point)
    finally:
        sc.remove_managed(nodes)
    return points


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


# -- part 2: the database after many CronJob runs ---------------------------------
def cron_history(runs: int, cronjobs: int = 100) -> list[dict[str, Any]]:
    """Drive the CronJob controller minute by minute; every Job it makes completes at once."""
    work = sc.new_daemon([], "cronhist").workdir
    db = work / "cron.db"
    store = Store(f"sqlite:///{db}")
    clock = FakeClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    applier = Applier(store, PolicyConfig(), lambda: None, clock.now)
    docs = "---\n".join(
        f"apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: c{i}}}\nspec:\n  schedule: '* * * * *'\n"
        "  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n"
        "          containers: [{name: c, image: miniorch.local/busybox:latest, command: ['true']}]\n"
        for i in range(cronjobs)
    )
    applier.apply(loader.load_text(docs, "cron.yaml"), "api")
    controller = CronJobController(store, applier, clock, lambda: None)
    samples, made, t0 = [], 0, time.monotonic()
    try:
        while made < runs:
            clock.advance(60)
            controller.reconcile_once()
            for job in store.objects_owned("CronJob"):
                if job.deleting:
                    store.delete_object(job.uid)  # the Job controller, once its containers are gone
                elif not job.status:
                    made += 1
                    _complete(store, job, clock.now())
            if made % 1000 < cronjobs:
                samples.append(
                    {
                        "runs": made,
                        "db_mb": round(_db_bytes(db) / 2**20, 2),
                        "jobs": len(store.list_objects("Job")),
                        "pods": len(store.list_pods(with_log=False)),
                        "events": len(store.list_events()),
                        "s": round(time.monotonic() - t0, 1),
                    }
                )
                print(samples[-1], flush=True)
    finally:
        store.close()
    return samples


def _complete(store: Store, job: ObjectRecord, now: dt.datetime) -> None:
    pod = PodRecord(
        str(uuid.uuid4()),
        f"{job.name}-{uuid.uuid4().hex[:5]}",
        job.namespace,
        "Job",
        job.name,
        job.uid,
        "node0",
        PodPhase.SUCCEEDED,
        exit_code=0,
        created_at=now,
        started_at=now,
        finished_at=now,
        labels={"job-name": job.name},
        log_tail=LOG,
        container_removed=True,
    )
    store.save_pods([pod])
    done = _ts(now)
    cond = {"type": "Complete", "status": "True", "lastProbeTime": done, "lastTransitionTime": done}
    status = {"succeeded": 1, "startTime": done, "completionTime": done, "conditions": [cond]}
    store.save_status(job.uid, status, finished=True)
    store.record_object_event(job, "Normal", "Completed", "Job completed", now)


def plot(points: list[dict[str, Any]], cron: list[dict[str, Any]], name: str = "history") -> None:
    fig, axes = sc.figure(name, 3, 5.0)
    if fig is None:
        return
    xs = [p["finished_pods"] for p in points]
    axes[0].plot(xs, [p["pass_ms"] for p in points], "o-")
    axes[0].set(xlabel="finished pods in the store", ylabel="ms per reconcile pass", title="pass time", ylim=(0, None))
    axes[1].plot(xs, [p["ctl_get_jobs_s"] for p in points], "o-", label="ctl get jobs")
    axes[1].plot(xs, [p["ctl_get_pods_l_s"] for p in points], "o-", label="ctl get pods -l job-name=X")
    axes[1].plot(xs, [p["ctl_version_s"] for p in points], "o--", label="ctl version (floor)")
    axes[1].axhline(0.2, color="red", lw=0.8, ls=":")
    axes[1].set(xlabel="finished pods in the store", ylabel="seconds", title="ctl latency", ylim=(0, None))
    axes[1].legend(fontsize=7)
    axes[2].plot([c["runs"] for c in cron], [c["db_mb"] for c in cron], "o-")
    axes[2].set(xlabel="CronJob runs", ylabel="database MB", title="default history limits", ylim=(0, None))
    sc.save_figure(fig, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=100_000, help="finished pods at the last step")
    parser.add_argument("--window", type=float, default=30, help="seconds of reconcile passes measured per step")
    parser.add_argument("--cron-runs", type=int, default=10_000)
    parser.add_argument("--only", choices=["history", "cron"])
    parser.add_argument("--reuse", type=Path, help="measure once on this earlier run's daemon folder (no seeding)")
    parser.add_argument("--name", default="history", help="results file name (bench/results/NAME.md)")
    parser.add_argument("--plot-from", type=Path, nargs="+", help="only draw NAME.png from these results' json files")
    args = parser.parse_args()
    sc.compile_bytecode()
    if args.plot_from:
        loaded = [json.loads(p.read_text()) for p in args.plot_from]
        points = sorted(
            (pt for r in loaded for pt in r.get("points", []) if "ctl_jobs_cpu_s" in pt),
            key=lambda pt: pt["finished_pods"],
        )
        plot(points, [c for r in loaded for c in r.get("cron_history", [])], args.name)
        return 0
    steps = sorted({0, args.pods // 10, args.pods})
    if args.reuse:
        points = reuse_point(args.reuse, args.window)
    else:
        points = history_points(steps, args.window) if args.only != "cron" else []
    cron = cron_history(args.cron_runs) if args.only != "history" else []
    plot(points, cron, args.name)
    rows: list[tuple[str, Any, str]] = []
    if points:
        first, last = points[0], points[-1]
        rows += [
            ("finished pods / Jobs", f"{last['finished_pods']:,} / {last['finished_jobs']:,}", ""),
            ("`ctl get jobs`", f"{last['ctl_get_jobs_s']} s", f"<= 0.2 s: {sc.ok(last['ctl_get_jobs_s'], 0.2)}"),
            (
                "`ctl get pods -l job-name=X`",
                f"{last['ctl_get_pods_l_s']} s",
                f"<= 0.2 s: {sc.ok(last['ctl_get_pods_l_s'], 0.2)}",
            ),
            ("`ctl version` (the CLI's own start-up)", f"{last['ctl_version_s']} s", "floor of the two above"),
            (
                "daemon RSS (after the listings)",
                f"{last['rss_mb_after_listings']} MB",
                f"<= 200 MB: {sc.ok(last['rss_mb_after_listings'], 200)}",
            ),
            ("reconcile pass, 0 finished pods", f"{first['pass_ms']} ms", ""),
            (
                f"reconcile pass, {last['finished_pods']:,} finished pods",
                f"{last['pass_ms']} ms",
                f"ratio {last['pass_ms'] / max(0.01, first['pass_ms']):.2f} to 0 finished",
            ),
            (
                "CPU of `ctl get jobs` (ctl + daemon)",
                f"{last['ctl_jobs_cpu_s']} s",
                f"with 0 finished: {first['ctl_jobs_cpu_s']} s",
            ),
            (
                "CPU of `ctl get pods -l job-name=X` (ctl + daemon)",
                f"{last['ctl_pods_l_cpu_s']} s",
                f"with 0 finished: {first['ctl_pods_l_cpu_s']} s; `ctl version`: {last['ctl_version_cpu_s']} s",
            ),
            ("daemon CPU at rest", f"{last['idle_cpu_percent']} %", f"with 0 finished: {first['idle_cpu_percent']} %"),
            ("database", f"{last['db_mb']} MB", ""),
        ]
    if cron:
        rows += [
            (
                f"database after {cron[-1]['runs']:,} CronJob runs",
                f"{cron[-1]['db_mb']} MB",
                f"after {cron[0]['runs']:,}: {cron[0]['db_mb']} MB; events {cron[-1]['events']}",
            )
        ]
    sc.write(args.name, "Shape 4: history", rows, {"points": points, "cron_history": cron})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
