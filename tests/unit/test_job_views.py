"""The Job planner's pods kept between passes (`controllers.jobviews`): always what a full read
of the Job's pods gives, and a pass after one pod changed reads that pod only."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

import pytest

from miniorch.controllers import jobviews, podrecords
from miniorch.reconcile import jobsettled
from miniorch.reconcile.views import PodView
from miniorch.store.records import PodPhase, PodRecord
from miniorch.store.store import Store

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def _pod(i: int, owner: str, step: int) -> PodRecord:
    return PodRecord(
        uid=f"p{i}",
        name=f"{owner}-{i}",
        namespace="default",
        owner_kind="Job",
        owner_name=owner,
        owner_uid=owner,
        node="n0",
        created_at=T0 + dt.timedelta(seconds=step // 3),  # ties: pods made in one pass
        completion_index=i % 7,
    )


def _expected(store: Store, owner: str) -> tuple[object, ...]:
    records = store.pods_of(owner, with_log=False)
    settled, unfinished = jobsettled.split(podrecords.views_of(records))
    return _summary(settled), [r for r in records if not r.phase.terminal], unfinished


def _summary(s: jobsettled.Settled) -> tuple[object, ...]:
    return s.count, s.succeeded, s.succeeded_indexes, s.last_success, s.notable, s.completed_indexes(), s.lowest_open


@pytest.mark.parametrize("seed", range(6))
def test_kept_pods_match_a_full_read_after_random_writes(tmp_path: Path, seed: int) -> None:
    """Pods created, started, finished (succeeded or failed, with logs), removed and deleted, the
    kept copies forgotten now and then: each pass sees what pods_of and a fresh split give."""
    rng = random.Random(seed)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    views = jobviews.JobViews(store)
    pods: dict[str, PodRecord] = {}
    owners = ["j1", "j2"]
    for step in range(150):
        op = rng.choice(["create", "create", "advance", "advance", "advance", "delete", "forget"])
        if op == "create":
            pod = _pod(step, rng.choice(owners), step)
            store.save_pod(pod)
            pods[pod.uid] = pod
        elif op == "advance" and pods:
            pod = pods[rng.choice(sorted(pods))]
            if pod.phase is PodPhase.PENDING:
                pod = dataclasses.replace(pod, phase=PodPhase.RUNNING, started_at=T0)
            elif pod.phase is PodPhase.RUNNING:
                failed = rng.random() < 0.3
                phase, code = (PodPhase.FAILED, 1) if failed else (PodPhase.SUCCEEDED, 0)
                pod = dataclasses.replace(
                    pod, phase=phase, exit_code=code, failures=int(failed), finished_at=T0, log_tail="out\n"
                )
            else:
                pod = dataclasses.replace(pod, container_removed=True, log_tail="")
            store.save_pod(pod)
            pods[pod.uid] = pod
        elif op == "delete" and pods:
            uid = rng.choice(sorted(pods))
            store.delete_pods([uid])
            del pods[uid]
        elif op == "forget":
            views.keep({rng.choice(owners)})
        for owner in owners:
            got = views.pods(owner)
            assert (_summary(got.settled), got.records, got.views) == _expected(store, owner), f"step {step} ({op})"
    store.close()


def test_a_pass_after_one_pod_finished_views_that_pod_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Job of 300 finished pods and 20 running: the next pass views the one pod saved since, and
    reads none of the others from the store."""
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    done = [
        dataclasses.replace(_pod(i, "big", i), phase=PodPhase.SUCCEEDED, exit_code=0, container_removed=True)
        for i in range(300)
    ]
    running = [dataclasses.replace(_pod(i, "big", i), phase=PodPhase.RUNNING) for i in range(300, 320)]
    store.save_pods([*done, *running])
    views = jobviews.JobViews(store)
    assert views.pods("big").settled.count == 300
    store.save_pod(dataclasses.replace(running[0], phase=PodPhase.SUCCEEDED, exit_code=0))
    made: list[str] = []
    view_of = podrecords.view_of

    def counted(rec: PodRecord) -> PodView:
        made.append(rec.uid)
        return view_of(rec)

    monkeypatch.setattr(podrecords, "view_of", counted)
    monkeypatch.setattr(store, "pods_of", lambda *a, **k: pytest.fail("read all the Job's pods"))
    got = views.pods("big")
    assert made == [running[0].uid]
    assert got.settled.count == 301 and len(got.records) == 19
    store.close()


def test_a_job_no_longer_planned_is_forgotten_with_the_stores_copies_of_its_pods(tmp_path: Path) -> None:
    """Finished with its last container gone (or deleted), a Job leaves the pass's owners: its
    views go, and so do the store's in-memory copies of its pods (a big Job's thousands stayed)."""
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    done = [
        dataclasses.replace(_pod(i, "big", i), phase=PodPhase.SUCCEEDED, exit_code=0, container_removed=True)
        for i in range(50)
    ]
    store.save_pods([*done, dataclasses.replace(_pod(50, "other", 0), phase=PodPhase.RUNNING)])
    views = jobviews.JobViews(store)
    assert views.pods("big").settled.count == 50 and views.pods("other").records
    assert store.pod_changes("big") == (False, [])  # followed in memory
    views.keep({"other"})
    full, pods = store.pod_changes("big")
    assert full and len(pods) == 50  # read from the database again: the copies were dropped
    assert store.pod_changes("other") == (False, [])  # the Job still planned keeps its own
    store.close()
