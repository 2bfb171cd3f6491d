"""Shape 5, a soak: --minutes (default 60) of mixed work on --nodes engines (default 3).

The work: a DaemonSet (an agent per node), --cronjobs CronJobs on `* * * * *` (history kept, so
every slot's Job can be checked at the end), and an Indexed Job (4 completions, 2 at a time, each
pod `sleep 2`) submitted every 30 s. Meanwhile the daemon is `kill -9`ed at a random moment of
every 5 minutes (and started again at once), and the last node is stopped for 60 s twice (at a
third and at two thirds of the run), then started again.

At the end: lost results (a Job not Complete, an index without a Succeeded pod of exit code 0, a
CronJob slot without a Job), duplicate pods (an index with more than one Succeeded pod, a slot with
more than one Job), orphan containers (a miniorch container without a live pod record, and any
container left a minute after everything is deleted). The daemon's RSS and open file descriptors
are sampled every 5 s (plotted, with the kills marked).

    .venv/bin/python bench/soak.py [--minutes 60] [--nodes 3] [--cronjobs 5] [--kill-every 300] [--name soak]

`--kill-every 0` keeps one daemon life for the whole run: RSS and fds over a long life, the
curve the kills cut short (written as `--name`, e.g. soak-one-life). `--trace-memory` runs the
daemon with tracemalloc on and sends it SIGUSR2 after --trace-from seconds and at the end: the
results list the allocation sites that grew between the two (its CPU figures are then not the
daemon's own).
"""

from __future__ import annotations

import argparse
import random
import signal
import time
from typing import Any

import cron_latency
import ds_latency
import httpx
import scale_common as sc
from support import dockernodes
from support.daemon import Daemon, job_yaml

INDEX = "batch.kubernetes.io/job-completion-index"
KILL_EVERY = 300.0
NODE_DOWN_SECONDS = 60.0
JOB_EVERY = 30.0


class Soak:
    def __init__(
        self,
        d: Daemon,
        nodes: list[dockernodes.DockerNode],
        minutes: float,
        cronjobs: int,
        kill_every: float,
        trace_from: float | None = None,
    ) -> None:
        self.d, self.nodes, self.seconds, self.cronjobs = d, nodes, minutes * 60, cronjobs
        self.kill_every = kill_every
        self.trace_from = trace_from  # seconds: when the first memory report is asked for
        self.jobs: list[str] = []
        self.kills: list[float] = []
        self.node_events: list[tuple[float, str]] = []
        self.t0 = time.monotonic()

    def _api(self, method: str, path: str, **kw: Any) -> Any:
        """An API call that waits out a daemon restart (the kill -9 is part of the work)."""
        deadline = time.monotonic() + 60
        while True:
            try:
                return self.d.api(method, path, **kw)
            except (httpx.HTTPError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def run(self) -> None:
        self.d.api("POST", "/apply", json={"source": "bench", "text": ds_latency.ds("agent", "1")})
        objs = [
            cron_latency.cronjob(f"soak-cj-{i}", "* * * * *", ["sh", "-c", "echo slot"], history=1000)
            for i in range(self.cronjobs)
        ]
        sc.apply_objects(self.d, objs)
        self.cron_from = (int(time.time()) // 60 + 1) * 60
        every = self.kill_every
        kill_at = (
            [w * every + random.uniform(30, every - 30) for w in range(int(self.seconds // every))] if every else []
        )
        down_at = [self.seconds / 3, 2 * self.seconds / 3]
        next_job = 0.0
        while (now := time.monotonic() - self.t0) < self.seconds:
            if now >= next_job:
                name = f"soak-job-{len(self.jobs)}"
                text = job_yaml(
                    name, "sleep 2; echo done", parallelism=2, completions=4, extra_spec={"completionMode": "Indexed"}
                )
                self._api("POST", "/apply", json={"source": "bench", "text": text})
                self.jobs.append(name)
                next_job += JOB_EVERY
            if kill_at and now >= kill_at[0]:
                kill_at.pop(0)
                self.kills.append(round(now, 1))
                self.d.kill()
                self.d.start(timeout=180)
                print(f"{now:7.1f}s daemon kill -9 and restart", flush=True)
            if down_at and now >= down_at[0]:
                down_at.pop(0)
                self._node_down()
            if self.trace_from is not None and now >= self.trace_from:
                self.trace_from = None
                self.memory_report()
            time.sleep(1)
        self.cron_to = (int(time.time()) // 60 - 1) * 60  # the last slot surely fired and ran

    def memory_report(self) -> None:
        """SIGUSR2: the daemon logs a memory_report (with tracemalloc on, see miniorch/memtrace.py)."""
        if self.d.proc is not None and self.d.proc.poll() is None:
            self.d.proc.send_signal(signal.SIGUSR2)
            print(f"{time.monotonic() - self.t0:7.1f}s memory report asked for", flush=True)

    def _node_down(self) -> None:
        node = self.nodes[-1]
        self.node_events.append((round(time.monotonic() - self.t0, 1), "stop"))
        node.stop()
        time.sleep(NODE_DOWN_SECONDS)
        node.start()
        self.node_events.append((round(time.monotonic() - self.t0, 1), "start"))
        print(f"{time.monotonic() - self.t0:7.1f}s {node.name} stopped for {NODE_DOWN_SECONDS:.0f} s", flush=True)

    def check(self) -> dict[str, Any]:
        self.d.wait_for(lambda: all(self._finished(j) for j in self.jobs), timeout=600, what="every soak Job finished")
        lost, duplicates, not_complete = [], [], []
        for name in self.jobs:
            job = self._api("GET", f"/apis/batch/v1/namespaces/default/jobs/{name}")
            if not any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"].get("conditions", [])):
                not_complete.append(name)
            pods = self._api("GET", "/api/v1/pods", params={"labelSelector": f"job-name={name}"})["items"]
            ok: dict[str, int] = {}
            for p in pods:
                state = p["status"]["containerStatuses"][0]["state"]
                if p["status"]["phase"] == "Succeeded" and state.get("terminated", {}).get("exitCode") == 0:
                    index = p["metadata"]["labels"][INDEX]
                    ok[index] = ok.get(index, 0) + 1
            lost += [f"{name}/{i}" for i in map(str, range(4)) if i not in ok]
            duplicates += [f"{name}/{i}" for i, n in ok.items() if n > 1]
        slots = set(range(self.cron_from, self.cron_to + 1, 60))
        cron_jobs = [
            j for j in self._api("GET", "/apis/batch/v1/jobs")["items"] if j["metadata"]["name"].startswith("soak-cj-")
        ]
        by_cj: dict[str, list[int]] = {f"soak-cj-{i}": [] for i in range(self.cronjobs)}
        for j in cron_jobs:
            owner = j["metadata"]["ownerReferences"][0]["name"]
            by_cj[owner].append(int(j["metadata"]["name"].rsplit("-", 1)[1]) * 60)
        missed = sum(len(slots - set(v)) for v in by_cj.values())
        doubled = sum(len(v) - len(set(v)) for v in by_cj.values())
        return {
            "jobs": len(self.jobs),
            "jobs_not_complete": not_complete,
            "lost_results": lost,
            "duplicate_pods": duplicates,
            "cron_slots": len(slots) * self.cronjobs,
            "cron_missed": missed,
            "cron_doubled": doubled,
            "orphans_live": self._orphans(),
        }

    def _finished(self, name: str) -> bool:
        job = self._api("GET", f"/apis/batch/v1/namespaces/default/jobs/{name}")
        return bool(job) and any(
            c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in job["status"].get("conditions", [])
        )

    def _orphans(self) -> list[str]:
        """miniorch containers on the nodes whose pod the store does not have as live."""
        live = {
            p["metadata"]["name"]
            for p in self._api("GET", "/api/v1/pods")["items"]
            if p["status"]["phase"] in ("Pending", "Running")
        }
        found = []
        for node in self.nodes:
            with dockernodes.client(node.url) as c:
                for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}):
                    if ctr.labels.get("miniorch.io/pod") not in live:
                        found.append(f"{node.name}/{ctr.name} ({ctr.status})")
        return found

    def teardown(self) -> list[str]:
        """Delete every object; the containers left a minute later."""
        kinds = (("apps/v1/daemonsets", "agent"), ("batch/v1/cronjobs", "soak-cj-"), ("batch/v1/jobs", "soak-job-"))
        for resource, prefix in kinds:
            group, _, plural = resource.rpartition("/")
            for obj in self._api("GET", f"/apis/{resource}")["items"]:
                if obj["metadata"]["name"].startswith(prefix):
                    self._api("DELETE", f"/apis/{group}/namespaces/default/{plural}/{obj['metadata']['name']}")
        time.sleep(60)
        left = []
        for node in self.nodes:
            with dockernodes.client(node.url) as c:
                left += [
                    f"{node.name}/{x.name}"
                    for x in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"})
                ]
        return left


def plot(samples: list[dict[str, float]], kills: list[float], node_events: list[tuple[float, str]], name: str) -> None:
    fig, axes = sc.figure(name, 2, 6.0)
    if fig is None:
        return
    t = [s["t_s"] / 60 for s in samples]
    axes[0].plot(t, [s["rss_mb"] for s in samples])
    axes[0].set(xlabel="minutes", ylabel="daemon RSS MB", title="RSS", ylim=(0, None))
    axes[1].plot(t, [s["fds"] for s in samples])
    axes[1].set(xlabel="minutes", ylabel="open fds", title="open file descriptors", ylim=(0, None))
    for ax in axes:
        for k in kills:
            ax.axvline(k / 60, color="red", lw=0.6, ls=":")
        for at, what in node_events:
            ax.axvline(at / 60, color="grey" if what == "stop" else "green", lw=0.6, ls="--")
    sc.save_figure(fig, name)


def _where(frames: list[str]) -> str:
    """A site's innermost frame, and the innermost of miniorch's own when that is another."""
    ours = [f for f in frames if "/miniorch/" in f]
    inner = frames[-1].rsplit("site-packages/", 1)[-1]
    return inner if not ours or ours[-1] == frames[-1] else f"{inner} (from {ours[-1].rsplit('/miniorch/', 1)[-1]})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--cronjobs", type=int, default=5)
    parser.add_argument(
        "--kill-every", type=float, default=KILL_EVERY, help="seconds between kill -9s (0: none, one daemon life)"
    )
    parser.add_argument("--name", default="soak", help="the results' file name under bench/results")
    parser.add_argument("--trace-memory", action="store_true", help="tracemalloc on; what grew, from SIGUSR2 reports")
    parser.add_argument("--trace-from", type=float, default=180.0, help="seconds: the first memory report")
    args = parser.parse_args()
    if args.kill_every and args.kill_every <= 60:
        parser.error("--kill-every: more than 60 seconds (a kill falls 30 s or more inside its window), or 0")
    nodes = sc.start_nodes(args.nodes)
    sc.remove_managed(nodes)
    d = sc.new_daemon([(n.name, n.url) for n in nodes], "soak", sc.SHIPPED_NODE_TIMING)
    d.start(timeout=180, env={"PYTHONTRACEMALLOC": "10"} if args.trace_memory else None)
    sampler = sc.Sampler(lambda: d.proc.pid if d.proc is not None and d.proc.poll() is None else None)
    sampler.start()
    soak = Soak(d, nodes, args.minutes, args.cronjobs, args.kill_every, args.trace_from if args.trace_memory else None)
    try:
        soak.run()
        if args.trace_memory:
            soak.memory_report()
            time.sleep(30)  # a snapshot of a traced heap takes a while
        result: dict[str, Any] = soak.check()
        result["orphans_after_delete"] = soak.teardown()
    finally:
        samples = sampler.stop()
        d.stop(timeout=120)
        dockernodes.restart_stopped_nodes(nodes)
        sc.remove_managed(nodes)
    result |= {"kills_at_s": soak.kills, "node_events": soak.node_events, "samples": samples}
    reports = [ev for ev in d.log_events() if ev.get("event") == "memory_report"]
    if reports:
        result["memory_reports"] = reports
    plot(samples, soak.kills, soak.node_events, args.name)
    half = [s for s in samples if s["t_s"] >= samples[-1]["t_s"] / 2] if samples else []
    rss = [s["rss_mb"] for s in samples]
    fds = [s["fds"] for s in samples]
    rows = [
        (
            "duration, kills, node stops",
            f"{args.minutes} min, {len(soak.kills)} kill -9, {len(soak.node_events) // 2} stops of {nodes[-1].name}",
            "",
        ),
        ("Jobs (4 Indexed pods each)", result["jobs"], f"not Complete: {len(result['jobs_not_complete'])}"),
        (
            "lost results",
            len(result["lost_results"]) + result["cron_missed"],
            f"indexes {len(result['lost_results'])}, CronJob slots {result['cron_missed']} of {result['cron_slots']}; "
            "target 0",
        ),
        ("duplicate pods", len(result["duplicate_pods"]) + result["cron_doubled"], "target 0"),
        (
            "orphan containers (live check, after delete)",
            f"{len(result['orphans_live'])}, {len(result['orphans_after_delete'])}",
            "target 0",
        ),
        (
            "RSS first / max / last",
            f"{rss[0]} / {max(rss)} / {rss[-1]} MB" if rss else "-",
            f"second half max {max(s['rss_mb'] for s in half)} MB" if half else "",
        ),
        ("open fds first / max / last", f"{fds[0]} / {max(fds)} / {fds[-1]}" if fds else "-", ""),
    ]
    if len(reports) >= 2:
        last = reports[-1]
        rows.append(("traced memory at the two reports", f"{reports[0]['traced_mib']} / {last['traced_mib']} MiB", ""))
        for site in last["top"][:8]:
            rows.append((f"grew: {_where(site['where'])}", f"{site['kib_diff']} KiB, {site['blocks_diff']} blocks", ""))
    sc.write(args.name, f"Shape 5: a {args.minutes:g}-minute soak", rows, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
