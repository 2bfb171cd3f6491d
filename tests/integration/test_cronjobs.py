"""CronJobs on the real test nodes: seconds schedules, concurrency policies, suspend, history, restarts, manual runs."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from support import dockernodes
from support.daemon import Daemon

from miniorch.reconcile.cronjob import INSTANTIATE_ANNOTATION, SCHEDULED_ANNOTATION

pytestmark = pytest.mark.both_backends  # the Store behaves alike on both (DESIGN 8)

IMAGE = "miniorch.local/busybox:latest"


def cronjob_yaml(name: str, schedule: str, command: str, **spec: Any) -> str:
    """A CronJob whose Jobs run `sh -c command` once (no retries unless backoffLimit is given)."""
    backoff = spec.pop("backoff_limit", 0)
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            **spec,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": backoff,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "terminationGracePeriodSeconds": 1,
                            "containers": [{"name": "c", "image": IMAGE, "command": ["sh", "-c", command]}],
                        }
                    },
                }
            },
        },
    }
    return yaml.safe_dump(body, sort_keys=False)


def jobs_of(daemon: Daemon, cronjob: str) -> list[dict[str, Any]]:
    """Jobs owned by the CronJob, oldest slot first."""
    items = daemon.api("GET", "/apis/batch/v1/jobs")["items"]
    owned = [j for j in items if any(r["name"] == cronjob for r in j["metadata"].get("ownerReferences", []))]
    return sorted(owned, key=lambda j: j["metadata"]["creationTimestamp"] + j["metadata"]["name"])


def cronjob(daemon: Daemon, name: str) -> dict[str, Any]:
    """The CronJob as `get -o json` shows it."""
    result: dict[str, Any] = daemon.api("GET", f"/apis/batch/v1/namespaces/default/cronjobs/{name}")
    return result


def finished(job: dict[str, Any]) -> str | None:
    """Complete / Failed, or None while it runs."""
    for cond in job["status"].get("conditions", []):
        if cond["type"] in ("Complete", "Failed") and cond["status"] == "True":
            return str(cond["type"])
    return None


@dataclass(frozen=True)
class Ctr:
    name: str
    status: str
    labels: dict[str, str]


def containers(nodes: list[Any], prefix: str = "") -> list[Ctr]:
    """Containers miniorch made whose name starts with prefix (one `docker ps -a` per node, no inspect races)."""
    out = []
    for node in nodes:
        with dockernodes.client(node.url) as c:
            for raw in c.api.containers(all=True, filters={"label": "miniorch.io/managed=true"}):
                name = raw["Names"][0].lstrip("/")
                if name.startswith(prefix):
                    out.append(Ctr(name, raw["State"], raw.get("Labels") or {}))
    return out


def running_containers(nodes: list[Any], prefix: str = "") -> list[Ctr]:
    """Running containers miniorch made (optionally only those whose name starts with prefix)."""
    return [c for c in containers(nodes, prefix) if c.status == "running"]


def scheduled_times(daemon: Daemon, name: str) -> list[dt.datetime]:
    """The scheduled-timestamp annotation of each of the CronJob's Jobs."""
    return [
        dt.datetime.fromisoformat(j["metadata"]["annotations"][SCHEDULED_ANNOTATION].replace("Z", "+00:00"))
        for j in jobs_of(daemon, name)
        if SCHEDULED_ANNOTATION in j["metadata"]["annotations"]
    ]


def test_allow_runs_two_jobs_at_once(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """Allow: while one Job sleeps, the next tick starts a second; status.active lists both."""
    daemon.apply(cronjob_yaml("allow", "*/2 * * * * *", "sleep 20", concurrencyPolicy="Allow"))
    daemon.wait_for(lambda: len(cronjob(daemon, "allow")["status"].get("active", [])) >= 2, timeout=10, what="2 active")
    daemon.wait_for(
        lambda: len(running_containers(docker_nodes, "allow-")) >= 2, timeout=5, what="2 running containers"
    )
    job = jobs_of(daemon, "allow")[0]
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["metadata"]["name"] == f"allow-{int(scheduled_times(daemon, 'allow')[0].timestamp())}"


def test_forbid_never_runs_two_at_once(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """Forbid: one Job runs, later ticks are skipped with JobAlreadyActive, never a second Job."""
    daemon.apply(cronjob_yaml("forbid", "*/1 * * * * *", "sleep 20", concurrencyPolicy="Forbid"))
    daemon.wait_for(lambda: jobs_of(daemon, "forbid"), timeout=10, what="a Job")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert len(jobs_of(daemon, "forbid")) == 1
        assert len(running_containers(docker_nodes, "forbid-")) <= 1
        time.sleep(0.2)
    events = daemon.events(cronjob(daemon, "forbid")["metadata"]["uid"])
    assert "JobAlreadyActive" in {e["reason"] for e in events}


def test_replace_stops_the_running_job_before_the_next_starts(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """Replace: each tick deletes the running Job (its container stops) before the new Job's container starts."""
    daemon.apply(cronjob_yaml("swap", "*/4 * * * * *", "sleep 60", concurrencyPolicy="Replace"))
    first = daemon.wait_for(lambda: running_containers(docker_nodes, "swap-"), timeout=10, what="a running container")
    first_job = first[0].labels["job-name"]
    deadline = time.monotonic() + 12
    seen_jobs = {first_job}
    while time.monotonic() < deadline and len(seen_jobs) < 3:
        running = running_containers(docker_nodes, "swap-")
        assert len(running) <= 1, [c.name for c in running]
        seen_jobs |= {c.labels["job-name"] for c in running}
        time.sleep(0.1)
    assert len(seen_jobs) >= 2
    daemon.wait_for(lambda: first_job not in {j["metadata"]["name"] for j in jobs_of(daemon, "swap")}, what="gone")
    alive = [j for j in jobs_of(daemon, "swap") if not j["metadata"].get("deletionTimestamp")]
    assert len(alive) == 1 and alive[0]["metadata"]["name"] != first_job


def test_suspend_makes_no_job_and_resuming_skips_old_slots(daemon: Daemon) -> None:
    """Suspended: no Job over several ticks; after `ctl patch` unsuspends it, only slots after the patch run."""
    daemon.apply(cronjob_yaml("nap", "*/1 * * * * *", "true", suspend=True))
    time.sleep(3.5)
    assert jobs_of(daemon, "nap") == []
    header, row = daemon.ctl("get", "cronjobs").stdout.splitlines()[:2]
    assert row[header.index("SUSPEND") :].split()[0] == "True"
    patched_at = dt.datetime.now(dt.UTC)
    daemon.ctl("patch", "cronjob", "nap", "-p", json.dumps({"spec": {"suspend": False}}), check=True)
    daemon.wait_for(lambda: jobs_of(daemon, "nap"), timeout=5, what="a Job after unsuspend")
    assert min(scheduled_times(daemon, "nap")) >= patched_at.replace(microsecond=0)
    daemon.ctl("patch", "cronjob", "nap", "-p", '{"spec":{"suspend":true}}', check=True)
    time.sleep(0.5)
    count = len(jobs_of(daemon, "nap"))
    time.sleep(2.5)
    assert len(jobs_of(daemon, "nap")) == count


def _settled_history(daemon: Daemon, name: str) -> dict[str, int]:
    jobs = [j for j in jobs_of(daemon, name) if not j["metadata"].get("deletionTimestamp")]
    out = {"Complete": 0, "Failed": 0, "running": 0}
    for job in jobs:
        out[finished(job) or "running"] += 1
    return out


def test_history_limits_of_one_and_zero_hold(daemon: Daemon) -> None:
    """successfulJobsHistoryLimit 1 keeps one finished Job; failedJobsHistoryLimit 0 keeps none. Judged
    once the CronJobs are suspended after a few runs (between two ticks the newest Job may still be
    running or just finished, its predecessor not yet deleted: a loaded host took over 1.7 s)."""
    keep1 = {"successfulJobsHistoryLimit": 1}
    keep0 = {"failedJobsHistoryLimit": 0}
    daemon.apply(cronjob_yaml("keep1", "*/2 * * * * *", "true", **keep1), "a.yaml")
    daemon.apply(cronjob_yaml("keep0", "*/2 * * * * *", "exit 3", **keep0), "b.yaml")
    daemon.wait_for(lambda: len(scheduled_times(daemon, "keep1")) >= 1, timeout=5, what="first Job")
    time.sleep(6.5)  # three more slots
    daemon.apply(cronjob_yaml("keep1", "*/2 * * * * *", "true", suspend=True, **keep1), "a.yaml")
    daemon.apply(cronjob_yaml("keep0", "*/2 * * * * *", "exit 3", suspend=True, **keep0), "b.yaml")
    settled = {"Complete": 1, "Failed": 0, "running": 0}, {"Complete": 0, "Failed": 0, "running": 0}
    daemon.wait_for(
        lambda: (_settled_history(daemon, "keep1"), _settled_history(daemon, "keep0")) == settled,
        timeout=30,
        what=f"the histories at {settled}",
    )
    for name in ("keep1", "keep0"):
        events = daemon.events(cronjob(daemon, name)["metadata"]["uid"])
        deleted = [e for e in events if e["reason"] == "SuccessfulDelete"]
        assert sum(e.get("count", 1) for e in deleted) >= 2, (name, events)  # the limits deleted runs


def test_daemon_restarts_make_at_most_one_catch_up_job_and_no_duplicates(daemon: Daemon) -> None:
    """kill -9 and SIGTERM while ticks are missed: at most one Job for the slots missed while down, none twice."""
    daemon.apply(cronjob_yaml("tock", "*/2 * * * * *", "true", successfulJobsHistoryLimit=100))
    windows = []
    for sig in (signal.SIGKILL, signal.SIGTERM):
        time.sleep(3)
        daemon.stop(sig)
        down = dt.datetime.now(dt.UTC)
        time.sleep(5)  # two or three slots pass unseen
        up = dt.datetime.now(dt.UTC)
        daemon.start()
        windows.append((down, up))
    time.sleep(3)
    times = scheduled_times(daemon, "tock")
    assert len(times) == len(set(times)), "two Jobs for one slot"
    names = [j["metadata"]["name"] for j in jobs_of(daemon, "tock")]
    assert len(names) == len(set(names))
    for down, up in windows:
        assert len([t for t in times if down < t <= up]) <= 1, (down, up, times)
    assert max(times) > windows[-1][1], "ticks go on after the restart"


def test_create_job_from_cronjob_runs_now_outside_the_concurrency_policy(
    daemon: Daemon, docker_nodes: list[Any]
) -> None:
    """`ctl create job NAME --from=cronjob/CJ` runs the template at once, next to a Forbid CronJob's running Job."""
    daemon.apply(cronjob_yaml("tpl", "*/1 * * * * *", "sleep 20", concurrencyPolicy="Forbid"))
    daemon.wait_for(lambda: running_containers(docker_nodes, "tpl-"), timeout=10, what="the scheduled Job running")
    result = daemon.ctl("create", "job", "by-hand", "--from=cronjob/tpl")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "job.batch/by-hand created"
    daemon.wait_for(lambda: running_containers(docker_nodes, "by-hand-"), timeout=10, what="the manual Job running")
    job = daemon.job("by-hand")
    assert job is not None
    assert job["metadata"]["annotations"][INSTANTIATE_ANNOTATION] == "manual"
    assert job["metadata"]["ownerReferences"][0]["name"] == "tpl"
    again = daemon.ctl("create", "job", "by-hand", "--from=cronjob/tpl")
    assert again.returncode == 1 and "already exists" in again.stderr
    missing = daemon.ctl("create", "job", "x", "--from=cronjob/nope")
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_deleting_a_cronjob_removes_its_jobs_and_containers(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """`ctl delete cronjob` returns once its Jobs and their containers are gone."""
    daemon.apply(cronjob_yaml("doomed", "*/1 * * * * *", "sleep 30"))
    daemon.wait_for(lambda: len(running_containers(docker_nodes, "doomed-")) >= 2, timeout=10, what="2 containers")
    result = daemon.ctl("delete", "cronjob", "doomed")
    assert result.returncode == 0, result.stderr
    assert jobs_of(daemon, "doomed") == []
    daemon.wait_for(
        lambda: not containers(docker_nodes, "doomed-"),
        timeout=10,
        what="no containers left",
    )
    assert daemon.ctl("get", "cronjob", "doomed").returncode == 1


def test_apply_rejects_a_bad_schedule_naming_the_field(daemon: Daemon) -> None:
    """A wrong cron field is refused at apply time with the file, line and field."""
    path = daemon.workdir / "bad.yaml"
    path.write_text(cronjob_yaml("bad", "0 0 31 2 *", "true"))
    result = daemon.ctl("apply", "-f", str(path))
    assert result.returncode == 1
    assert "bad.yaml:6" in result.stderr and "spec.schedule" in result.stderr and "day-of-month field" in result.stderr
