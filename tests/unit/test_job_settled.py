"""A Job's finished pods summed up (`reconcile.jobsettled`): the plan from the summary and the
unfinished pods is the plan from all the pods, whatever order the pods finished in."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from support.planning import NODES, NOW, TIMING, counter_ids

from miniorch.reconcile import indexes, jobsettled
from miniorch.reconcile import job as job_mod
from miniorch.reconcile.placement import Load
from miniorch.reconcile.policies import FailureRule, SuccessRule
from miniorch.reconcile.startretry import START_ERRORS
from miniorch.reconcile.views import PodPhase, PodView

T0 = NOW - dt.timedelta(minutes=10)


def _pod(rng: random.Random, n: int, completions: int, on_failure: bool) -> PodView:
    phase = rng.choice([PodPhase.PENDING, PodPhase.RUNNING, PodPhase.SUCCEEDED, PodPhase.SUCCEEDED, PodPhase.FAILED])
    fields: dict[str, Any] = {}
    if phase is PodPhase.FAILED:
        fields["reason"] = rng.choice(["Error", "NodeLost", sorted(START_ERRORS)[0]])
        fields["failures"] = 0 if fields["reason"] == "NodeLost" else 1
        fields["exit_code"] = rng.choice([1, 3, 4, 5])
    elif on_failure and rng.random() < 0.3:
        fields["failures"] = rng.randint(1, 2)  # restarted in place
        fields["restart_pending"] = phase is PodPhase.RUNNING and rng.random() < 0.5
    if fields.get("failures"):
        fields["last_failure_at"] = T0 + dt.timedelta(seconds=rng.randint(0, 590))
    if phase is PodPhase.SUCCEEDED:
        fields["exit_code"] = 0
    if phase.terminal:
        fields["finished_at"] = T0 + dt.timedelta(seconds=rng.randint(0, 590))
    if not phase.terminal and rng.random() < 0.15:
        fields["deletion_reason"] = "ScaledDown"
    return PodView(
        uid=f"u{n}",
        name=f"pi-{n}",
        namespace="default",
        owner_kind="Job",
        owner_name="pi",
        owner_uid="job-uid",
        node=rng.choice(["node0", "node1", None]) if phase is PodPhase.PENDING else "node0",
        phase=phase,
        created_at=T0 + dt.timedelta(seconds=rng.randint(0, 8)),  # ties: pods made in one pass
        completion_index=rng.randrange(completions),
        **fields,
    )


def _job(rng: random.Random, completions: int) -> job_mod.JobParams:
    rules = (FailureRule("FailJob", "In", frozenset({3})), FailureRule("FailIndex", "In", frozenset({4})))
    per_index = rng.choice([None, 1])
    return job_mod.JobParams(
        uid="job-uid",
        namespace="default",
        name="pi",
        parallelism=rng.choice([2, 5]),
        completions=completions,
        backoff_limit=rng.choice([1, 6, 2**31 - 1 if per_index is not None else 20]),
        restart_policy=rng.choice(["Never", "OnFailure"]),
        indexed=rng.random() < 0.7,
        backoff_limit_per_index=per_index,
        max_failed_indexes=rng.choice([None, 3]),
        failure_rules=(*rules, FailureRule("Ignore", "In", frozenset({5})))[: rng.randint(0, 3)],
        success_rules=rng.choice([(), (SuccessRule(count=completions - 1),)]),
    )


@pytest.mark.parametrize("seed", range(300))
def test_a_plan_from_the_summed_up_finished_pods_is_the_plan_from_all_pods(seed: int) -> None:
    """Random Jobs and pods (failures, FailJob/FailIndex/Ignore rules, per-index backoff, OnFailure
    restarts, duplicates, ties in creation time): the finished pods added in any order."""
    rng = random.Random(seed)
    completions = rng.randint(3, 12)
    job = _job(rng, completions)
    pods = sorted(
        (_pod(rng, n, completions, job.restart_policy == "OnFailure") for n in range(rng.randint(0, 14))),
        key=lambda p: p.created_at,
    )
    previous = job_mod.JobStatus(start_time=T0)
    everything = job_mod.plan_job(job, previous, pods, NODES, Load(), NOW, TIMING, counter_ids())
    settled = jobsettled.Settled()
    finished = [(i, p) for i, p in enumerate(pods) if p.phase.terminal]
    rng.shuffle(finished)  # pods finish in any order
    for i, pod in finished:
        settled.add(pod, (pod.created_at, i))
    unfinished = [p for p in pods if not p.phase.terminal]
    summed = job_mod.plan_job(job, previous, unfinished, NODES, Load(), NOW, TIMING, counter_ids(), settled)
    assert summed == everything


@pytest.mark.parametrize("seed", range(20))
def test_completed_indexes_grow_into_kubernetes_interval_lists(seed: int) -> None:
    """Each index added in any order, some twice: the text is format_intervals' of the set so far,
    and lowest_open is the lowest index not succeeded."""
    rng = random.Random(seed)
    settled, done = jobsettled.Settled(), set()
    for n in range(60):
        index = rng.randrange(40)
        pod = PodView(
            f"u{n}", f"p{n}", "default", "Job", "pi", "job-uid", "node0", T0, PodPhase.SUCCEEDED, completion_index=index
        )
        settled.add(pod, (T0, n))
        done.add(index)
        assert settled.completed_indexes() == indexes.format_intervals(done)
        assert settled.lowest_open == min(set(range(41)) - done)
    assert settled.succeeded == 60 and settled.succeeded_indexes == done and settled.count == 60


def test_only_failed_pods_or_pods_with_failed_runs_are_kept_whole() -> None:
    """A big Job's succeeded pods are counted, not kept: `notable` holds the rest, in pod order."""
    settled = jobsettled.Settled()
    ok = PodView("a", "pi-a", "default", "Job", "pi", "job-uid", "node0", T0, PodPhase.SUCCEEDED)
    failed = PodView("b", "pi-b", "default", "Job", "pi", "job-uid", "node0", T0, PodPhase.FAILED, failures=1)
    retried = PodView("c", "pi-c", "default", "Job", "pi", "job-uid", "node0", T0, PodPhase.SUCCEEDED, failures=2)
    settled.add(retried, (T0, 2))
    settled.add(ok, (T0, 0))
    settled.add(failed, (T0, 1))
    assert settled.notable == [failed, retried]
    assert (settled.count, settled.succeeded) == (3, 2)


def test_an_index_in_backoff_waits_though_another_index_succeeded_since() -> None:
    """backoffLimitPerIndex: an index's clock is its own failed runs; a later success elsewhere does
    not end it (the Job-wide backoff would restart from that success)."""
    job = job_mod.JobParams(
        uid="job-uid",
        namespace="default",
        name="pi",
        parallelism=2,
        completions=2,
        backoff_limit=2**31 - 1,
        indexed=True,
        backoff_limit_per_index=1,
    )
    failed_at, succeeded_at = NOW - dt.timedelta(seconds=5), NOW - dt.timedelta(seconds=1)
    pods = [
        PodView(
            "a",
            "pi-0-a",
            "default",
            "Job",
            "pi",
            "job-uid",
            "node0",
            T0,
            PodPhase.FAILED,
            failures=1,
            exit_code=1,
            finished_at=failed_at,
            last_failure_at=failed_at,
            completion_index=0,
        ),
        PodView(
            "b",
            "pi-1-b",
            "default",
            "Job",
            "pi",
            "job-uid",
            "node0",
            T0,
            PodPhase.SUCCEEDED,
            exit_code=0,
            finished_at=succeeded_at,
            completion_index=1,
        ),
    ]
    plan = job_mod.plan_job(job, job_mod.JobStatus(start_time=T0), pods, NODES, Load(), NOW, TIMING, counter_ids())
    assert plan.actions == ()
    assert plan.wake_at == failed_at + dt.timedelta(seconds=TIMING.backoff_initial)
