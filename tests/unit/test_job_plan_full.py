"""Pure Job planning beyond the basics: Indexed mode, per-index backoff, podFailurePolicy, successPolicy,
activeDeadlineSeconds, suspend, ttlSecondsAfterFinished, resource requests and lost nodes.

Table-driven; no Docker, no I/O, no sleeping: a fixed UTC `NOW` and a deterministic `new_id`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from support.planning import NOW, plan, seconds

from miniorch.reconcile import job as job_mod
from miniorch.reconcile import pods as pod_logic
from miniorch.reconcile.actions import BindPod, CreatePod, DeletePod, Event
from miniorch.reconcile.conditions import Condition, has_condition
from miniorch.reconcile.placement import Load, NodeSelection, NodeView, Resources, place, reserve
from miniorch.reconcile.policies import FailureRule, SuccessRule
from miniorch.reconcile.views import PodPhase, PodView

LONG_AGO = NOW - dt.timedelta(hours=1)
MAX_INT32 = 2**31 - 1
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
FAILURE_COUNT_KEY = "batch.kubernetes.io/job-index-failure-count"
GIB = 1024**3


# --- builders (copied from test_job_plan.py, plus Indexed helpers) ---------------------------------------------


def make_job(**overrides: Any) -> job_mod.JobParams:
    """The `pi` Job with the given spec fields."""
    return job_mod.JobParams(uid="job-uid", namespace="default", name="pi", **overrides)


def indexed_job(completions: int, parallelism: int, **overrides: Any) -> job_mod.JobParams:
    """An Indexed `pi` Job; with backoffLimitPerIndex the Job-wide backoffLimit defaults to MaxInt32, as in the spec loader."""
    if overrides.get("backoff_limit_per_index") is not None:
        overrides.setdefault("backoff_limit", MAX_INT32)
    return make_job(indexed=True, completions=completions, parallelism=parallelism, **overrides)


def make_pod(n: int, phase: PodPhase = PodPhase.RUNNING, node: str | None = "node0", **fields: Any) -> PodView:
    """An existing pod of the `pi` Job, created n seconds after a fixed base time."""
    return PodView(
        uid=f"old-{n}",
        name=f"pi-old{n}",
        namespace="default",
        owner_kind="Job",
        owner_name="pi",
        owner_uid="job-uid",
        node=node,
        phase=phase,
        created_at=NOW - dt.timedelta(minutes=10) + seconds(n),
        **fields,
    )


def failed_pod(n: int, at: dt.datetime, code: int = 1, **fields: Any) -> PodView:
    """A restartPolicy Never pod that failed once at `at` with exit code `code`."""
    return make_pod(
        n, PodPhase.FAILED, reason="Error", failures=1, last_failure_at=at, finished_at=at, exit_code=code, **fields
    )


def succeeded_pod(n: int, at: dt.datetime = NOW - dt.timedelta(minutes=1), **fields: Any) -> PodView:
    """A pod that exited 0 at `at`."""
    return make_pod(n, PodPhase.SUCCEEDED, reason="Completed", finished_at=at, exit_code=0, **fields)


def ipod(n: int, index: int, phase: PodPhase = PodPhase.RUNNING, **fields: Any) -> PodView:
    """An existing pod of an Indexed `pi` Job for completion index `index`."""
    return make_pod(n, phase, completion_index=index, **fields)


def ifailed(n: int, index: int, at: dt.datetime = LONG_AGO, code: int = 1, **fields: Any) -> PodView:
    """A failed pod of index `index`."""
    return failed_pod(n, at, code, completion_index=index, **fields)


def isucceeded(n: int, index: int) -> PodView:
    """A succeeded pod of index `index`."""
    return succeeded_pod(n, completion_index=index)


def disrupted_pod(n: int, reason: str, **fields: Any) -> PodView:
    """A pod stopped by a disruption (NodeLost / Evicted): Failed with failures 0."""
    return make_pod(n, PodPhase.FAILED, reason=reason, finished_at=NOW - seconds(1), **fields)


def created(p: job_mod.JobPlan) -> list[PodView]:
    """The pods the plan creates."""
    return [a.pod for a in p.actions if isinstance(a, CreatePod)]


def created_indexes(p: job_mod.JobPlan) -> list[int | None]:
    """The completion indexes of the pods the plan creates, in creation order."""
    return [pod.completion_index for pod in created(p)]


def deleted(p: job_mod.JobPlan) -> list[tuple[str, str]]:
    """(pod uid, reason) of the DeletePod actions of the plan."""
    return [(a.pod_uid, a.reason) for a in p.actions if isinstance(a, DeletePod)]


def condition(status: job_mod.JobStatus, type_: str) -> Condition:
    """The condition of that type (it must exist)."""
    [cond] = [c for c in status.conditions if c.type == type_]
    return cond


def reasons(events: Sequence[Event]) -> list[tuple[str, str]]:
    """(type, reason) of each event."""
    return [(e.type, e.reason) for e in events]


def stopped(pod: PodView, reason: str) -> PodView:
    """The pod after our DeletePod(reason) finished: Failed with that reason, failures unchanged."""
    return dataclasses.replace(pod, phase=PodPhase.FAILED, reason=reason, deletion_reason=reason, finished_at=NOW)


def stopping(pod: PodView, reason: str) -> PodView:
    """The pod while our DeletePod(reason) is in progress: still running, terminating."""
    return dataclasses.replace(pod, deletion_reason=reason)


def exit_rule(action: str, operator: str, *values: int) -> FailureRule:
    """A podFailurePolicy onExitCodes rule."""
    return FailureRule(action, operator, frozenset(values))


def disruption_rule(action: str) -> FailureRule:
    """A podFailurePolicy onPodConditions rule on DisruptionTarget=True."""
    return FailureRule(action, conditions=(("DisruptionTarget", "True"),))


# === Indexed completion mode =====================================================================================


@pytest.mark.parametrize(
    ("completions", "parallelism", "expected"),
    [(5, 3, [0, 1, 2]), (3, 1, [0]), (2, 5, [0, 1]), (4, 4, [0, 1, 2, 3])],
)
def test_indexed_first_pass_creates_the_lowest_indexes_up_to_parallelism(
    completions: int, parallelism: int, expected: list[int]
) -> None:
    """A new Indexed Job starts indexes 0..min(parallelism, completions)-1, named <job>-<i>-<suffix>."""
    p = plan(indexed_job(completions, parallelism))
    assert created_indexes(p) == expected
    assert [pod.name for pod in created(p)] == [f"pi-{i}-n{k}" for k, i in enumerate(expected, start=1)]
    assert p.status.active == len(expected)
    assert p.status.completed_indexes == ""


def test_indexed_pods_carry_the_completion_index_as_label_and_annotation() -> None:
    """Each Indexed pod has batch.kubernetes.io/job-completion-index as label and annotation, next to the template's."""
    job = indexed_job(2, 2, pod_labels={"app": "pi"}, pod_annotations={"note": "x"})
    for i, pod in enumerate(created(plan(job))):
        assert pod.completion_index == i
        assert pod.labels[INDEX_KEY] == str(i)
        assert pod.labels["app"] == "pi"
        assert pod.labels["batch.kubernetes.io/job-name"] == "pi"
        assert pod.annotations == {"note": "x", INDEX_KEY: str(i)}


def test_non_indexed_pods_have_no_completion_index() -> None:
    """A NonIndexed Job's pods are named <job>-<suffix> and carry no index label, annotation or completedIndexes."""
    p = plan(make_job(parallelism=2, completions=2))
    assert [(pod.name, pod.completion_index) for pod in created(p)] == [("pi-n1", None), ("pi-n2", None)]
    assert all(INDEX_KEY not in pod.labels and INDEX_KEY not in pod.annotations for pod in created(p))
    assert (p.status.completed_indexes, p.status.failed_indexes) == (None, None)


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([isucceeded(1, 0), isucceeded(2, 2), ipod(3, 1)], [3, 4]),
        ([ipod(1, 3)], [0, 1]),
        ([isucceeded(1, 0), isucceeded(2, 1)], [2, 3, 4]),
        ([isucceeded(1, 4), ipod(2, 0), ipod(3, 2)], [1]),
    ],
    ids=["gap-after-succeeded", "busy-high-index", "after-prefix", "only-hole-left"],
)
def test_indexed_job_fills_the_lowest_free_indexes(pods: list[PodView], expected: list[int]) -> None:
    """Free indexes (not succeeded, no pod) are started lowest first, up to parallelism 3 of completions 5."""
    assert created_indexes(plan(indexed_job(5, 3), pods)) == expected


def test_failed_index_is_retried_with_the_same_index() -> None:
    """A failed pod's index gets a new pod with that same index (and name <job>-<i>-<suffix>)."""
    p = plan(indexed_job(3, 3), [ipod(1, 0), ifailed(2, 1), ipod(3, 2)])
    [pod] = created(p)
    assert (pod.completion_index, pod.name, pod.labels[INDEX_KEY]) == (1, "pi-1-n1", "1")
    assert p.status.failed == 1


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([isucceeded(1, 1), ipod(2, 0), ipod(3, 2)], []),
        ([isucceeded(1, 1), ipod(2, 0)], [2]),
        ([isucceeded(1, 0), isucceeded(2, 1), ifailed(3, 0)], [2]),
        ([isucceeded(1, 0), ifailed(2, 0), isucceeded(3, 2), ifailed(4, 1)], [1]),
    ],
    ids=[
        "all-others-busy",
        "next-free-index",
        "succeeded-despite-an-older-failure",
        "only-the-unsucceeded-failed-index",
    ],
)
def test_succeeded_index_never_runs_again(pods: list[PodView], expected: list[int]) -> None:
    """An index with a succeeded pod is never started again, even when one of its pods also failed."""
    assert created_indexes(plan(indexed_job(3, 3), pods)) == expected


@pytest.mark.parametrize(
    ("busy", "expected"),
    [
        (ipod(1, 0), [1, 2]),
        (ipod(1, 0, PodPhase.PENDING), [1, 2]),
        (ipod(1, 0, PodPhase.UNKNOWN, reason="NodeUnreachable"), [1, 2]),
        (stopping(ipod(1, 0), "Evicted"), [1, 2]),
        (stopping(ipod(1, 0), "ScaledDown"), [1, 2]),
    ],
    ids=["running", "pending", "unreachable-node", "terminating-evicted", "terminating-scaled-down"],
)
def test_index_with_an_active_or_terminating_pod_gets_no_second_pod(busy: PodView, expected: list[int]) -> None:
    """While index 0 has a pod that may still run (active, unreachable or terminating), no second pod starts for it."""
    p = plan(indexed_job(3, 3), [busy])
    assert created_indexes(p) == expected
    assert 0 not in created_indexes(p)


def test_terminating_pod_of_a_failed_index_blocks_its_replacement_until_it_stopped() -> None:
    """A replacement for index 0 waits until its evicted pod has stopped, then starts with index 0."""
    job = indexed_job(2, 2)
    evicting = stopping(ipod(1, 0), "Evicted")
    waiting = plan(job, [evicting, ipod(2, 1)])
    assert created(waiting) == []
    assert (waiting.status.active, waiting.status.terminating) == (1, 1)

    after = plan(job, [stopped(evicting, "Evicted"), ipod(2, 1)], previous=waiting.status)
    assert created_indexes(after) == [0]
    assert after.status.failed == 0


def test_duplicate_active_pods_for_one_index_are_reduced_to_one() -> None:
    """Two active pods for index 0 (e.g. after a restart): one is deleted, and the freed slot starts index 2."""
    pods = [ipod(1, 0), ipod(2, 0), ipod(3, 1)]
    p = plan(indexed_job(3, 3), pods)
    assert len([uid for uid, _ in deleted(p) if uid in ("old-1", "old-2")]) == 1
    assert created_indexes(p) == [2]


@pytest.mark.parametrize(
    ("succeeded", "completions", "expected"),
    [
        (set(), 3, ""),
        ({0}, 3, "0"),
        ({0, 1}, 4, "0,1"),
        ({0, 1, 2}, 5, "0-2"),
        ({0, 1, 2, 5}, 7, "0-2,5"),
        ({1, 3, 4, 5, 7}, 9, "1,3-5,7"),
    ],
)
def test_completed_indexes_is_an_interval_string(succeeded: set[int], completions: int, expected: str) -> None:
    """status.completedIndexes lists succeeded indexes in Kubernetes interval form."""
    pods = [isucceeded(n, i) for n, i in enumerate(sorted(succeeded), start=1)]
    p = plan(indexed_job(completions, 1), pods)
    assert p.status.completed_indexes == expected
    assert p.status.failed_indexes is None  # only reported with backoffLimitPerIndex
    assert p.status.succeeded == len(succeeded)


@pytest.mark.parametrize(
    ("failed", "expected"),
    [(set(), ""), ({0}, "0"), ({0, 1}, "0,1"), ({0, 1, 2}, "0-2"), ({0, 1, 2, 5}, "0-2,5"), ({2, 4}, "2,4")],
)
def test_failed_indexes_is_an_interval_string(failed: set[int], expected: str) -> None:
    """With backoffLimitPerIndex, status.failedIndexes lists the indexes that used up their retries."""
    pods = [ifailed(n, i) for n, i in enumerate(sorted(failed), start=1)]
    p = plan(indexed_job(8, 1, backoff_limit_per_index=0), pods)
    assert p.status.failed_indexes == expected
    assert p.status.failed == len(failed)
    assert not has_condition(p.status.conditions, "FailureTarget")


def test_indexed_job_completes_when_every_index_succeeded() -> None:
    """When all indexes 0..completions-1 succeeded, the Job is SuccessCriteriaMet and Complete (CompletionsReached)."""
    p = plan(indexed_job(3, 2), [isucceeded(1, 0), isucceeded(2, 1), isucceeded(3, 2)])
    assert condition(p.status, "SuccessCriteriaMet").reason == "CompletionsReached"
    assert condition(p.status, "Complete").reason == "CompletionsReached"
    assert p.status.completion_time == NOW
    assert p.status.completed_indexes == "0-2"
    assert p.actions == ()


def test_indexed_job_is_not_complete_while_an_index_is_missing() -> None:
    """Enough succeeded pods is not enough: index 0 succeeding twice leaves index 2 to run."""
    p = plan(indexed_job(3, 3), [isucceeded(1, 0), isucceeded(2, 0), isucceeded(3, 1)])
    assert not has_condition(p.status.conditions, "SuccessCriteriaMet")
    assert created_indexes(p) == [2]
    assert (p.status.succeeded, p.status.completed_indexes) == (3, "0,1")


# === backoffLimitPerIndex / maxFailedIndexes =====================================================================


def test_failed_index_is_retried_after_its_own_backoff_delay() -> None:
    """With backoffLimitPerIndex, index 0 failing 3s ago is retried 10s after the failure, not before."""
    failed_at = NOW - seconds(3)
    job = indexed_job(2, 2, backoff_limit_per_index=2)
    pods = [ifailed(1, 0, at=failed_at), ipod(2, 1)]
    early = plan(job, pods)
    assert created(early) == []
    assert early.wake_at == failed_at + seconds(10)
    assert early.status.failed_indexes == ""

    due = plan(job, pods, previous=early.status, now=failed_at + seconds(10))
    [pod] = created(due)
    assert (pod.completion_index, pod.name) == (0, "pi-0-n1")
    assert pod.annotations[FAILURE_COUNT_KEY] == "1"


@pytest.mark.parametrize(("failures", "delay"), [(1, 10), (2, 20), (3, 40)])
def test_per_index_backoff_doubles_with_the_failures_of_that_index(failures: int, delay: int) -> None:
    """The per-index delay is 10s * 2^(n-1) after the index's latest failure, n = its failure count."""
    last = NOW - seconds(1)
    pods = [ifailed(n, 0, at=last - seconds(100 * (failures - n))) for n in range(1, failures + 1)]
    p = plan(indexed_job(1, 1, backoff_limit_per_index=5), pods)
    assert created(p) == []
    assert p.wake_at == last + seconds(delay)


def test_per_index_backoff_does_not_hold_back_other_indexes() -> None:
    """While index 0 backs off, the other free indexes start at once; the plan wakes when index 0 may retry."""
    failed_at = NOW - seconds(1)
    p = plan(indexed_job(3, 3, backoff_limit_per_index=1), [ifailed(1, 0, at=failed_at)])
    assert created_indexes(p) == [1, 2]
    assert p.wake_at == failed_at + seconds(10)


@pytest.mark.parametrize(
    ("limit", "failures", "index_failed"),
    [(0, 1, True), (1, 1, False), (1, 2, True), (2, 2, False), (2, 3, True), (3, 3, False)],
)
def test_index_is_marked_failed_after_limit_plus_one_failures(limit: int, failures: int, index_failed: bool) -> None:
    """Index 0 is failed after backoffLimitPerIndex+1 failed runs; until then it is retried; index 1 keeps running."""
    pods = [ifailed(n, 0) for n in range(1, failures + 1)] + [ipod(10, 1)]
    p = plan(indexed_job(2, 2, backoff_limit_per_index=limit), pods)
    assert p.status.failed_indexes == ("0" if index_failed else "")
    assert created_indexes(p) == ([] if index_failed else [0])
    assert deleted(p) == []
    assert not has_condition(p.status.conditions, "FailureTarget")
    assert p.status.failed == failures


def test_failing_index_does_not_stop_other_indexes() -> None:
    """With index 0 failed for good, the remaining free indexes are still started."""
    pods = [ifailed(1, 0), ipod(2, 1)]
    p = plan(indexed_job(4, 3, backoff_limit_per_index=0), pods)
    assert created_indexes(p) == [2, 3]
    assert p.status.failed_indexes == "0"
    assert not has_condition(p.status.conditions, "FailureTarget")


def test_job_index_failure_count_annotation_counts_the_failures_of_that_index() -> None:
    """New pods carry job-index-failure-count = the counted failures of their index so far."""
    pods = [ifailed(1, 0), ifailed(2, 0), ifailed(3, 2)]
    p = plan(indexed_job(3, 3, backoff_limit_per_index=5), pods)
    assert {pod.completion_index: pod.annotations[FAILURE_COUNT_KEY] for pod in created(p)} == {0: "2", 1: "0", 2: "1"}


def test_ignored_failures_do_not_raise_the_index_failure_count() -> None:
    """A failure matched by an Ignore rule neither fails the index nor increases job-index-failure-count."""
    job = indexed_job(1, 1, backoff_limit_per_index=0, failure_rules=(exit_rule("Ignore", "In", 42),))
    p = plan(job, [ifailed(1, 0, code=42)])
    [pod] = created(p)
    assert pod.annotations[FAILURE_COUNT_KEY] == "0"
    assert (p.status.failed_indexes, p.status.failed) == ("", 0)


def test_job_with_failed_indexes_fails_with_failed_indexes_once_every_index_is_done() -> None:
    """All indexes finished and one failed: FailureTarget and Failed, reason FailedIndexes, no completionTime."""
    pods = [ifailed(1, 0), isucceeded(2, 1), isucceeded(3, 2)]
    p = plan(indexed_job(3, 3, backoff_limit_per_index=0), pods)
    target = condition(p.status, "FailureTarget")
    assert (target.reason, target.message) == ("FailedIndexes", "Job has failed indexes")
    assert condition(p.status, "Failed").reason == "FailedIndexes"
    assert (p.status.failed_indexes, p.status.completed_indexes) == ("0", "1,2")
    assert p.status.completion_time is None
    assert not has_condition(p.status.conditions, "Complete")
    assert p.actions == ()


def test_job_with_a_failed_index_waits_for_the_running_indexes() -> None:
    """With index 0 failed but index 2 still running, the Job neither fails nor stops index 2."""
    pods = [ifailed(1, 0), isucceeded(2, 1), ipod(3, 2)]
    p = plan(indexed_job(3, 3, backoff_limit_per_index=0), pods)
    assert not has_condition(p.status.conditions, "FailureTarget")
    assert p.actions == ()
    assert p.status.active == 1


def test_exceeding_max_failed_indexes_fails_the_job_at_once_and_deletes_active_pods() -> None:
    """More failed indexes than maxFailedIndexes: FailureTarget MaxFailedIndexesExceeded and all active pods deleted."""
    pods = [ifailed(1, 0), ifailed(2, 1), ipod(3, 2), ipod(4, 3), ipod(5, 4, PodPhase.PENDING)]
    p = plan(indexed_job(6, 5, backoff_limit_per_index=0, max_failed_indexes=1), pods)
    target = condition(p.status, "FailureTarget")
    assert (target.reason, target.message) == (
        "MaxFailedIndexesExceeded",
        "Job has exceeded the specified maximal number of failed indexes",
    )
    assert sorted(deleted(p)) == [(f"old-{n}", "MaxFailedIndexesExceeded") for n in (3, 4, 5)]
    assert created(p) == []
    assert ("Warning", "MaxFailedIndexesExceeded") in reasons(p.events)
    assert not has_condition(p.status.conditions, "Failed")
    assert (p.status.active, p.status.terminating, p.status.failed_indexes) == (0, 3, "0,1")


def test_max_failed_indexes_reached_but_not_exceeded_keeps_the_job_running() -> None:
    """len(failedIndexes) == maxFailedIndexes is still allowed: other indexes run on."""
    pods = [ifailed(1, 0), ipod(2, 1)]
    p = plan(indexed_job(3, 3, backoff_limit_per_index=0, max_failed_indexes=1), pods)
    assert not has_condition(p.status.conditions, "FailureTarget")
    assert created_indexes(p) == [2]


def test_failed_job_after_max_failed_indexes_becomes_failed_once_pods_stopped() -> None:
    """FailureTarget MaxFailedIndexesExceeded turns into Failed when the deleted pods have stopped; they do not count."""
    job = indexed_job(3, 3, backoff_limit_per_index=0, max_failed_indexes=0)
    first = plan(job, [ifailed(1, 0), ipod(2, 1)])
    second = plan(
        job,
        [ifailed(1, 0), stopped(ipod(2, 1), "MaxFailedIndexesExceeded")],
        previous=first.status,
        now=NOW + seconds(5),
    )
    failed = condition(second.status, "Failed")
    assert (failed.reason, failed.last_transition_time) == ("MaxFailedIndexesExceeded", NOW + seconds(5))
    assert second.status.failed == 1
    assert second.actions == ()


# === podFailurePolicy ============================================================================================


def test_failjob_rule_fails_the_job_after_the_first_matching_failure() -> None:
    """FailJob on exit code In [1]: the first such failure sets FailureTarget PodFailurePolicy and stops the other pods."""
    job = make_job(
        parallelism=2,
        completions=2,
        backoff_limit=6,
        container_name="c",
        failure_rules=(exit_rule("FailJob", "In", 1),),
    )
    p = plan(job, [failed_pod(1, NOW - seconds(1)), make_pod(2)])
    target = condition(p.status, "FailureTarget")
    assert target.reason == "PodFailurePolicy"
    assert (
        target.message == "Container c for pod default/pi-old1 failed with exit code 1 matching FailJob rule at index 0"
    )
    assert deleted(p) == [("old-2", "PodFailurePolicy")]
    assert created(p) == []
    assert p.status.failed == 1


def test_failjob_rule_does_not_fire_on_other_exit_codes() -> None:
    """FailJob In [1] leaves an exit-2 failure to normal counting: replaced after the backoff, no FailureTarget."""
    job = make_job(backoff_limit=6, failure_rules=(exit_rule("FailJob", "In", 1),))
    p = plan(job, [failed_pod(1, LONG_AGO, code=2)])
    assert not has_condition(p.status.conditions, "FailureTarget")
    assert len(created(p)) == 1
    assert p.status.failed == 1


def test_ignore_rule_failure_is_not_counted_and_is_replaced() -> None:
    """Ignore on exit 42: not in status.failed, not against backoffLimit 0, and a replacement is created."""
    job = make_job(backoff_limit=0, failure_rules=(exit_rule("Ignore", "In", 42),))
    p = plan(job, [failed_pod(1, LONG_AGO, code=42)])
    assert p.status.failed == 0
    assert not has_condition(p.status.conditions, "FailureTarget")
    assert len(created(p)) == 1


def test_ignored_failures_still_feed_the_creation_backoff() -> None:
    """As Kubernetes (#119378), an ignored failure delays its replacement by the backoff, so it does not hot-loop."""
    failed_at = NOW - seconds(3)
    job = make_job(backoff_limit=0, failure_rules=(exit_rule("Ignore", "In", 42),))
    p = plan(job, [failed_pod(1, failed_at, code=42)])
    assert created(p) == []
    assert p.wake_at == failed_at + seconds(10)


@pytest.mark.parametrize(("backoff_limit", "fails"), [(0, True), (1, False)])
def test_count_rule_failure_is_counted(backoff_limit: int, fails: bool) -> None:
    """Count on exit 42 counts the failure against backoffLimit like the default."""
    job = make_job(backoff_limit=backoff_limit, failure_rules=(exit_rule("Count", "In", 42),))
    p = plan(job, [failed_pod(1, LONG_AGO, code=42)])
    assert p.status.failed == 1
    assert has_condition(p.status.conditions, "FailureTarget") is fails
    if fails:
        assert condition(p.status, "FailureTarget").reason == "BackoffLimitExceeded"
    else:
        assert len(created(p)) == 1


def test_failindex_rule_fails_the_index_without_retry() -> None:
    """FailIndex (with backoffLimitPerIndex 3): index 0 is failed on its first matching failure; index 1 still starts."""
    job = indexed_job(2, 2, backoff_limit_per_index=3, failure_rules=(exit_rule("FailIndex", "In", 3),))
    p = plan(job, [ifailed(1, 0, code=3)])
    assert p.status.failed_indexes == "0"
    assert created_indexes(p) == [1]
    assert p.status.failed == 1
    assert not has_condition(p.status.conditions, "FailureTarget")


def test_failindex_then_every_index_done_fails_with_failed_indexes() -> None:
    """A FailIndex'ed index makes the Job Failed (FailedIndexes) once the other indexes are done."""
    job = indexed_job(2, 2, backoff_limit_per_index=3, failure_rules=(exit_rule("FailIndex", "In", 3),))
    p = plan(job, [ifailed(1, 0, code=3), isucceeded(2, 1)])
    assert condition(p.status, "Failed").reason == "FailedIndexes"


@pytest.mark.parametrize(("code", "fails_job"), [(3, True), (137, True), (1, False), (2, False)])
def test_notin_rule_matches_other_non_zero_exit_codes(code: int, fails_job: bool) -> None:
    """FailJob NotIn [1, 2]: exit 3 or 137 fails the Job; exit 1 or 2 is counted normally."""
    job = make_job(backoff_limit=6, failure_rules=(exit_rule("FailJob", "NotIn", 1, 2),))
    p = plan(job, [failed_pod(1, LONG_AGO, code=code)])
    assert has_condition(p.status.conditions, "FailureTarget") is fails_job
    assert p.status.failed == 1


def test_notin_rule_never_matches_a_pod_that_exited_zero() -> None:
    """FailJob NotIn [1]: a succeeded pod (exit 0) is no failure; the Job completes."""
    job = make_job(failure_rules=(exit_rule("FailJob", "NotIn", 1),))
    p = plan(job, [succeeded_pod(1)])
    assert not has_condition(p.status.conditions, "FailureTarget")
    assert has_condition(p.status.conditions, "Complete")


@pytest.mark.parametrize(
    ("rules", "fails_job", "counted"),
    [
        ((exit_rule("Ignore", "In", 42), exit_rule("FailJob", "NotIn", 7)), False, 0),
        ((exit_rule("FailJob", "NotIn", 7), exit_rule("Ignore", "In", 42)), True, 1),
        ((exit_rule("Count", "In", 42), exit_rule("Ignore", "In", 42)), False, 1),
        ((exit_rule("Ignore", "In", 1), exit_rule("Ignore", "In", 42), exit_rule("FailJob", "In", 42)), False, 0),
    ],
    ids=["ignore-first", "failjob-first", "count-first", "second-rule-ignores"],
)
def test_first_matching_rule_wins(rules: tuple[FailureRule, ...], fails_job: bool, counted: int) -> None:
    """With several rules matching exit 42, the first one in order decides."""
    job = make_job(backoff_limit=6, failure_rules=rules)
    p = plan(job, [failed_pod(1, LONG_AGO, code=42)])
    assert has_condition(p.status.conditions, "FailureTarget") is fails_job
    assert p.status.failed == counted


@pytest.mark.parametrize("reason", ["NodeLost", "Evicted"])
def test_disrupted_pod_is_not_counted_by_default(reason: str) -> None:
    """A NodeLost / Evicted pod does not count against backoffLimit 0 and is replaced at once."""
    p = plan(make_job(backoff_limit=0), [disrupted_pod(1, reason)])
    assert p.status.failed == 0
    assert not has_condition(p.status.conditions, "FailureTarget")
    assert len(created(p)) == 1
    assert p.wake_at is None


@pytest.mark.parametrize("reason", ["NodeLost", "Evicted"])
def test_count_rule_on_disruption_target_counts_disrupted_pods(reason: str) -> None:
    """A Count rule on DisruptionTarget makes a NodeLost / Evicted pod count: backoffLimit 0 is exceeded."""
    p = plan(make_job(backoff_limit=0, failure_rules=(disruption_rule("Count"),)), [disrupted_pod(1, reason)])
    assert p.status.failed == 1
    assert condition(p.status, "FailureTarget").reason == "BackoffLimitExceeded"


@pytest.mark.parametrize("reason", ["NodeLost", "Evicted"])
def test_ignore_rule_on_disruption_target_ignores_disrupted_pods(reason: str) -> None:
    """An Ignore rule on DisruptionTarget keeps disrupted pods uncounted, and they are replaced."""
    p = plan(make_job(backoff_limit=0, failure_rules=(disruption_rule("Ignore"),)), [disrupted_pod(1, reason)])
    assert p.status.failed == 0
    assert len(created(p)) == 1


def test_disruption_target_rule_leaves_ordinary_failures_counted() -> None:
    """An Ignore rule on DisruptionTarget does not match a pod that simply exited 1: it still counts."""
    p = plan(make_job(backoff_limit=0, failure_rules=(disruption_rule("Ignore"),)), [failed_pod(1, LONG_AGO)])
    assert p.status.failed == 1
    assert condition(p.status, "FailureTarget").reason == "BackoffLimitExceeded"


def test_failjob_rule_on_disruption_target_fails_the_job() -> None:
    """A FailJob rule on DisruptionTarget fails the Job (PodFailurePolicy) on the first evicted pod."""
    p = plan(make_job(failure_rules=(disruption_rule("FailJob"),)), [disrupted_pod(1, "Evicted")])
    assert condition(p.status, "FailureTarget").reason == "PodFailurePolicy"


def test_failjob_rule_on_disruption_target_names_the_condition_in_its_message() -> None:
    """The FailJob message for a condition rule reads "Pod <ns>/<pod> has condition DisruptionTarget matching FailJob rule at index <i>"."""
    job = make_job(container_name="c", failure_rules=(exit_rule("Ignore", "In", 9), disruption_rule("FailJob")))
    p = plan(job, [disrupted_pod(1, "Evicted")])
    assert (
        condition(p.status, "FailureTarget").message
        == "Pod default/pi-old1 has condition DisruptionTarget matching FailJob rule at index 1"
    )


# === successPolicy ===============================================================================================


def test_success_policy_met_deletes_active_pods_then_completes_once_none_terminate() -> None:
    """succeededIndexes "0" met: SuccessCriteriaMet (SuccessPolicy), active pods deleted, Complete after they stopped."""
    job = indexed_job(3, 3, success_rules=(SuccessRule(frozenset({0})),))
    pods = [isucceeded(1, 0), ipod(2, 1), ipod(3, 2)]
    first = plan(job, pods)
    met = condition(first.status, "SuccessCriteriaMet")
    assert (met.reason, met.message) == ("SuccessPolicy", "Matched rules at index 0")
    assert sorted(deleted(first)) == [("old-2", "SuccessPolicy"), ("old-3", "SuccessPolicy")]
    assert created(first) == []
    assert not has_condition(first.status.conditions, "Complete")
    assert (first.status.active, first.status.terminating) == (0, 2)

    terminating = [pods[0], stopping(pods[1], "SuccessPolicy"), stopping(pods[2], "SuccessPolicy")]
    second = plan(job, terminating, previous=first.status, now=NOW + seconds(1))
    assert second.actions == ()
    assert not has_condition(second.status.conditions, "Complete")
    assert second.status.terminating == 2

    gone = [pods[0], stopped(pods[1], "SuccessPolicy"), stopped(pods[2], "SuccessPolicy")]
    third = plan(job, gone, previous=second.status, now=NOW + seconds(30))
    complete = condition(third.status, "Complete")
    assert (complete.reason, complete.last_transition_time) == ("SuccessPolicy", NOW + seconds(30))
    assert third.status.completion_time == NOW + seconds(30)
    assert (third.status.failed, third.status.succeeded, third.status.completed_indexes) == (0, 1, "0")
    assert ("Normal", "Completed") in reasons(third.events)


@pytest.mark.parametrize(
    ("rule", "succeeded", "met"),
    [
        (SuccessRule(count=2), {0}, False),
        (SuccessRule(count=2), {0, 3}, True),
        (SuccessRule(count=2), {4, 1}, True),
        (SuccessRule(frozenset({0, 1, 2}), count=2), {0, 4}, False),
        (SuccessRule(frozenset({0, 1, 2}), count=2), {0, 2}, True),
        (SuccessRule(frozenset({3, 4})), {3}, False),
        (SuccessRule(frozenset({3, 4})), {3, 4}, True),
    ],
    ids=["count-short", "count-met", "count-met-any-order", "both-outside", "both-met", "indexes-short", "indexes-met"],
)
def test_success_policy_variants(rule: SuccessRule, succeeded: set[int], met: bool) -> None:
    """succeededCount, succeededIndexes and both together decide SuccessCriteriaMet for a 5-index Job."""
    pods = [isucceeded(n, i) for n, i in enumerate(sorted(succeeded), start=1)]
    p = plan(indexed_job(5, 2, success_rules=(rule,)), pods)
    assert has_condition(p.status.conditions, "SuccessCriteriaMet") is met
    if met:
        assert condition(p.status, "SuccessCriteriaMet").reason == "SuccessPolicy"
        assert condition(p.status, "Complete").reason == "SuccessPolicy"
        assert created(p) == []
    else:
        assert len(created(p)) == 2


def test_success_policy_message_names_the_matching_rule() -> None:
    """With two rules and only the second met, the message is "Matched rules at index 1"."""
    rules = (SuccessRule(frozenset({4})), SuccessRule(count=1))
    p = plan(indexed_job(5, 1, success_rules=rules), [isucceeded(1, 0)])
    assert condition(p.status, "SuccessCriteriaMet").message == "Matched rules at index 1"


@pytest.mark.parametrize(
    ("job", "pods", "reason"),
    [
        (
            indexed_job(
                3, 3, success_rules=(SuccessRule(frozenset({0})),), failure_rules=(exit_rule("FailJob", "In", 1),)
            ),
            [isucceeded(1, 0), ifailed(2, 1), ipod(3, 2)],
            "PodFailurePolicy",
        ),
        (
            indexed_job(3, 3, success_rules=(SuccessRule(count=1),), backoff_limit=0),
            [isucceeded(1, 0), ifailed(2, 1), ipod(3, 2)],
            "BackoffLimitExceeded",
        ),
        (
            indexed_job(
                3, 3, success_rules=(SuccessRule(frozenset({0})),), backoff_limit_per_index=0, max_failed_indexes=0
            ),
            [isucceeded(1, 0), ifailed(2, 1), ipod(3, 2)],
            "MaxFailedIndexesExceeded",
        ),
    ],
    ids=["failjob", "backoff-limit", "max-failed-indexes"],
)
def test_failure_wins_over_success_policy_in_the_same_pass(
    job: job_mod.JobParams, pods: list[PodView], reason: str
) -> None:
    """When a failure and the successPolicy trigger in one pass, the Job gets FailureTarget and no SuccessCriteriaMet."""
    p = plan(job, pods)
    assert condition(p.status, "FailureTarget").reason == reason
    assert not has_condition(p.status.conditions, "SuccessCriteriaMet")
    assert deleted(p) == [("old-3", reason)]


def test_success_criteria_met_is_not_overturned_by_a_later_failure() -> None:
    """Once SuccessCriteriaMet is set, a failure seen on a later pass does not turn the Job into a failure."""
    job = indexed_job(3, 3, success_rules=(SuccessRule(frozenset({0})),), backoff_limit=0)
    first = plan(job, [isucceeded(1, 0), ipod(2, 1)])
    later = plan(job, [isucceeded(1, 0), failed_pod(2, NOW, completion_index=1)], previous=first.status)
    assert not has_condition(later.status.conditions, "FailureTarget")
    assert condition(later.status, "Complete").reason == "SuccessPolicy"


# === activeDeadlineSeconds =======================================================================================


@pytest.mark.parametrize(("elapsed", "exceeded"), [(0, False), (59, False), (60, True), (61, True), (3600, True)])
def test_deadline_exceeded_once_now_reaches_start_plus_deadline(elapsed: int, exceeded: bool) -> None:
    """activeDeadlineSeconds 60: FailureTarget DeadlineExceeded from startTime+60 on; before that wake_at is the deadline."""
    start = NOW - seconds(elapsed)
    p = plan(make_job(active_deadline_seconds=60), [make_pod(1)], previous=job_mod.JobStatus(start_time=start))
    assert has_condition(p.status.conditions, "FailureTarget") is exceeded
    if exceeded:
        target = condition(p.status, "FailureTarget")
        assert (target.reason, target.message) == ("DeadlineExceeded", "Job was active longer than specified deadline")
        assert deleted(p) == [("old-1", "DeadlineExceeded")]
        assert ("Warning", "DeadlineExceeded") in reasons(p.events)
    else:
        assert p.actions == ()
        assert p.wake_at == start + seconds(60)


def test_deadline_counts_from_the_first_pass() -> None:
    """A new Job with a deadline sets startTime now and wakes at now + deadline."""
    p = plan(make_job(active_deadline_seconds=30))
    assert p.status.start_time == NOW
    assert p.wake_at == NOW + seconds(30)


@pytest.mark.parametrize("deadline", [10**12, 2**63 - 1])
def test_a_deadline_after_the_year_9999_never_comes(deadline: int) -> None:
    """activeDeadlineSeconds is an int64: one past what a datetime holds is no deadline (it crashed the
    Job controller with OverflowError, and with it the daemon)."""
    p = plan(make_job(active_deadline_seconds=deadline), [make_pod(1)])
    assert not has_condition(p.status.conditions, "FailureTarget") and p.actions == ()


def test_deadline_exceeded_becomes_failed_after_the_pods_stopped_and_they_do_not_count() -> None:
    """After DeadlineExceeded the Job is Failed once its pods stopped; pods stopped for the deadline are not failures."""
    job = make_job(active_deadline_seconds=60)
    first = plan(job, [make_pod(1)], previous=job_mod.JobStatus(start_time=NOW - seconds(61)))
    second = plan(job, [stopped(make_pod(1), "DeadlineExceeded")], previous=first.status, now=NOW + seconds(2))
    assert condition(second.status, "Failed").reason == "DeadlineExceeded"
    assert second.status.failed == 0
    assert second.status.completion_time is None


@pytest.mark.parametrize(("elapsed", "wake_after"), [(57, 3), (50, 7)])
def test_wake_at_is_the_earlier_of_deadline_and_backoff(elapsed: int, wake_after: int) -> None:
    """While backing off (ready 7s from now), the plan wakes at the deadline if that comes first."""
    previous = job_mod.JobStatus(start_time=NOW - seconds(elapsed))
    p = plan(
        make_job(active_deadline_seconds=60, backoff_limit=3), [failed_pod(1, NOW - seconds(3))], previous=previous
    )
    assert created(p) == []
    assert p.wake_at == NOW + seconds(wake_after)


def test_suspended_job_does_not_time_out() -> None:
    """A suspended Job past its deadline gets no DeadlineExceeded and no deadline wake-up."""
    previous = job_mod.JobStatus(start_time=NOW - dt.timedelta(hours=2))
    p = plan(make_job(active_deadline_seconds=60, suspend=True), [make_pod(1)], previous=previous)
    assert not has_condition(p.status.conditions, "FailureTarget")
    assert deleted(p) == [("old-1", "Suspended")]
    assert p.wake_at is None


def test_resume_resets_start_time_so_the_deadline_counts_from_the_resume() -> None:
    """Unsuspending sets startTime to now: an old startTime does not make the Job time out at once."""
    suspended = condition(plan(make_job(suspend=True), now=LONG_AGO).status, "Suspended")
    previous = job_mod.JobStatus(start_time=LONG_AGO - dt.timedelta(hours=1), conditions=(suspended,))
    p = plan(make_job(active_deadline_seconds=60), previous=previous)
    assert p.status.start_time == NOW
    assert not has_condition(p.status.conditions, "FailureTarget")
    assert p.wake_at == NOW + seconds(60)
    assert len(created(p)) == 1
    assert ("Normal", "Resumed") in reasons(p.events)


# === failure precedence ==========================================================================================


@pytest.mark.parametrize(
    ("job", "pods", "start_ago", "reason"),
    [
        (
            make_job(backoff_limit=0, failure_rules=(exit_rule("FailJob", "In", 1),)),
            [failed_pod(1, LONG_AGO)],
            0,
            "PodFailurePolicy",
        ),
        (make_job(backoff_limit=0, active_deadline_seconds=60), [failed_pod(1, LONG_AGO)], 120, "BackoffLimitExceeded"),
        (
            indexed_job(3, 3, backoff_limit_per_index=0, max_failed_indexes=0, active_deadline_seconds=60),
            [ifailed(1, 0), ipod(2, 1)],
            120,
            "DeadlineExceeded",
        ),
        (
            indexed_job(2, 2, backoff_limit_per_index=0, max_failed_indexes=0),
            [ifailed(1, 0), isucceeded(2, 1)],
            0,
            "MaxFailedIndexesExceeded",
        ),
        (
            indexed_job(2, 2, backoff_limit_per_index=0, backoff_limit=0),
            [ifailed(1, 0), isucceeded(2, 1)],
            0,
            "BackoffLimitExceeded",
        ),
        (
            indexed_job(2, 2, backoff_limit_per_index=0, active_deadline_seconds=60),
            [ifailed(1, 0), isucceeded(2, 1)],
            120,
            "DeadlineExceeded",
        ),
    ],
    ids=[
        "failjob-over-backoff",
        "backoff-over-deadline",
        "deadline-over-max-failed-indexes",
        "max-failed-indexes-over-failed-indexes",
        "backoff-over-failed-indexes",
        "deadline-over-failed-indexes",
    ],
)
def test_failure_reasons_follow_kubernetes_precedence(
    job: job_mod.JobParams, pods: list[PodView], start_ago: int, reason: str
) -> None:
    """When several failure causes hold at once, FailJob > backoffLimit > deadline > maxFailedIndexes > FailedIndexes."""
    p = plan(job, pods, previous=job_mod.JobStatus(start_time=NOW - seconds(start_ago)))
    assert condition(p.status, "FailureTarget").reason == reason


# === suspend =====================================================================================================


def test_suspending_an_indexed_job_deletes_active_pods_and_keeps_completed_indexes() -> None:
    """suspend: active pods are deleted with reason Suspended, Suspended=True + event, completedIndexes kept."""
    job = indexed_job(3, 3, suspend=True)
    previous = job_mod.JobStatus(start_time=NOW - seconds(60))
    p = plan(job, [isucceeded(1, 0), ipod(2, 1), ipod(3, 2)], previous=previous)
    assert sorted(deleted(p)) == [("old-2", "Suspended"), ("old-3", "Suspended")]
    assert created(p) == []
    cond = condition(p.status, "Suspended")
    assert (cond.status, cond.reason, cond.message) == ("True", "JobSuspended", "Job suspended")
    assert ("Normal", "Suspended") in reasons(p.events)
    assert (p.status.active, p.status.terminating, p.status.completed_indexes) == (0, 2, "0")


def test_pods_deleted_for_suspend_are_not_counted_and_their_indexes_restart_on_resume() -> None:
    """Pods stopped by suspend are no failures; on resume their indexes start again and Suspended flips to False."""
    suspended_job = indexed_job(3, 3, suspend=True, backoff_limit=0)
    pods = [isucceeded(1, 0), ipod(2, 1), ipod(3, 2)]
    first = plan(suspended_job, pods, previous=job_mod.JobStatus(start_time=NOW - seconds(60)))
    gone = [pods[0], stopped(pods[1], "Suspended"), stopped(pods[2], "Suspended")]

    still = plan(suspended_job, gone, previous=first.status, now=NOW + seconds(10))
    assert still.actions == ()
    assert still.events == ()
    assert (still.status.failed, still.status.active, still.status.terminating) == (0, 0, 0)
    assert not has_condition(still.status.conditions, "FailureTarget")

    resumed = plan(
        dataclasses.replace(suspended_job, suspend=False), gone, previous=still.status, now=NOW + seconds(20)
    )
    assert created_indexes(resumed) == [1, 2]
    assert resumed.status.failed == 0
    cond = condition(resumed.status, "Suspended")
    assert (cond.status, cond.reason) == ("False", "JobResumed")
    assert ("Normal", "Resumed") in reasons(resumed.events)
    assert resumed.status.start_time == NOW + seconds(20)


def test_suspended_event_is_emitted_once() -> None:
    """A Job that stays suspended emits the Suspended event only on the pass that suspends it."""
    first = plan(make_job(suspend=True))
    assert reasons(first.events) == [("Normal", "Suspended")]
    again = plan(make_job(suspend=True), previous=first.status, now=NOW + seconds(5))
    assert again.events == ()
    assert condition(again.status, "Suspended").last_transition_time == NOW


# === ttlSecondsAfterFinished =====================================================================================


FINISH = NOW - dt.timedelta(minutes=5)


def finished_status(kind: str) -> job_mod.JobStatus:
    """A status that finished at FINISH: Complete (after SuccessCriteriaMet) or Failed (after FailureTarget)."""
    if kind == "Complete":
        return job_mod.JobStatus(
            succeeded=1,
            start_time=FINISH - seconds(60),
            completion_time=FINISH,
            conditions=(
                Condition("SuccessCriteriaMet", "True", "CompletionsReached", "done", FINISH - seconds(30)),
                Condition("Complete", "True", "CompletionsReached", "done", FINISH),
            ),
        )
    return job_mod.JobStatus(
        failed=1,
        start_time=FINISH - seconds(60),
        conditions=(
            Condition("FailureTarget", "True", "BackoffLimitExceeded", "limit", FINISH - seconds(30)),
            Condition("Failed", "True", "BackoffLimitExceeded", "limit", FINISH),
        ),
    )


@pytest.mark.parametrize("kind", ["Complete", "Failed"])
@pytest.mark.parametrize(
    ("ttl", "after", "wake_after", "delete"),
    [
        (100, 50, 100, False),
        (100, 99, 100, False),
        (100, 100, None, True),
        (100, 500, None, True),
        (0, 0, None, True),
        (None, 0, None, False),
        (None, 10 * 365 * 86400, None, False),
    ],
)
def test_finished_job_is_deleted_ttl_seconds_after_it_finished(
    kind: str, ttl: int | None, after: int, wake_after: int | None, delete: bool
) -> None:
    """A finished Job wakes at finish + ttl and is deleted at or after it; without ttl it is never deleted."""
    pods = [succeeded_pod(1)] if kind == "Complete" else [failed_pod(1, FINISH - seconds(40))]
    job = make_job(backoff_limit=0, ttl_seconds_after_finished=ttl)
    p = plan(job, pods, previous=finished_status(kind), now=FINISH + seconds(after))
    assert p.delete_job is delete
    assert p.wake_at == (FINISH + seconds(wake_after) if wake_after is not None else None)
    assert p.actions == ()
    assert p.status.conditions == finished_status(kind).conditions


def test_ttl_counts_from_the_complete_condition_not_success_criteria_met() -> None:
    """The TTL clock starts at the Complete condition's transition, not the earlier SuccessCriteriaMet."""
    assert finished_status("Complete").finish_time == FINISH
    assert finished_status("Failed").finish_time == FINISH
    p = plan(
        make_job(ttl_seconds_after_finished=20),
        [succeeded_pod(1)],
        previous=finished_status("Complete"),
        now=FINISH + seconds(10),
    )
    assert p.wake_at == FINISH + seconds(20)
    assert not p.delete_job


@pytest.mark.parametrize("ttl", [0, 60])
def test_unfinished_job_is_never_deleted_by_ttl(ttl: int) -> None:
    """ttlSecondsAfterFinished only applies to finished Jobs: a running Job (even with FailureTarget) stays."""
    running = plan(make_job(ttl_seconds_after_finished=ttl), [make_pod(1)], now=NOW + dt.timedelta(days=1))
    assert not running.delete_job
    failing = plan(make_job(backoff_limit=0, ttl_seconds_after_finished=ttl), [failed_pod(1, LONG_AGO), make_pod(2)])
    assert has_condition(failing.status.conditions, "FailureTarget")
    assert not failing.delete_job


def test_finished_job_deletes_straggler_pods_with_reason_job_finished() -> None:
    """A pod still active after the Job finished is deleted (reason JobFinished) while waiting for the TTL."""
    p = plan(
        make_job(ttl_seconds_after_finished=600), [succeeded_pod(1), make_pod(2)], previous=finished_status("Complete")
    )
    assert deleted(p) == [("old-2", "JobFinished")]
    assert p.status.terminating == 1


def test_the_pass_that_finishes_a_job_with_ttl_schedules_its_deletion() -> None:
    """The very pass that marks a Job Complete already returns wake_at = finish + ttl, so the TTL fires on time."""
    p = plan(make_job(ttl_seconds_after_finished=100), [succeeded_pod(1)])
    assert has_condition(p.status.conditions, "Complete")
    assert p.wake_at == NOW + seconds(100)


# === resource requests and placement =============================================================================


CAPPED = NodeView("n", ready=True, capacity=Resources(2.0, 1 * GIB), requested=Resources(1.0, GIB // 2))


@pytest.mark.parametrize(
    ("requests", "node", "reason"),
    [
        (Resources(1.0, 0), "n", ""),
        (Resources(0.5, GIB // 2), "n", ""),
        (Resources(1.5, 0), None, "0/1 nodes are available: 1 Insufficient cpu."),
        (Resources(0.0, GIB // 2 + 1), None, "0/1 nodes are available: 1 Insufficient memory."),
        (Resources(0.0, 0), "n", ""),
        (None, "n", ""),
    ],
    ids=["cpu-exact-fit", "both-exact-fit", "cpu-short", "memory-short", "no-requests", "requests-none"],
)
def test_place_refuses_nodes_without_room_for_the_requests(
    requests: Resources | None, node: str | None, reason: str
) -> None:
    """A node fits when its requested + the pod's requests stay within capacity; otherwise the reason names the resource."""
    assert place(NodeSelection(), (CAPPED,), {}, requests).node == node
    assert place(NodeSelection(), (CAPPED,), {}, requests).reason == reason


def test_place_reports_both_resources_for_a_node_short_of_cpu_and_memory() -> None:
    """As the kube-scheduler, a node lacking both cpu and memory is reported under both reasons."""
    result = place(NodeSelection(), (CAPPED,), {}, Resources(1.5, GIB))
    assert result.node is None
    assert "Insufficient cpu" in result.reason
    assert "Insufficient memory" in result.reason


def test_node_of_unknown_capacity_takes_any_requests() -> None:
    """A node never probed (capacity None) is not filtered on resources."""
    node = NodeView("n", ready=True, capacity=None, requested=Resources(100.0, 100 * GIB))
    assert place(NodeSelection(), (node,), {}, Resources(64.0, 64 * GIB)).node == "n"


def test_place_counts_pods_reserved_earlier_in_the_same_pass() -> None:
    """reserve() on a Load adds the placed pod's requests, so the next place() sees the node as fuller."""
    nodes = (
        NodeView("a", ready=True, capacity=Resources(2.0, 4 * GIB)),
        NodeView("b", ready=True, capacity=Resources(2.0, 4 * GIB)),
    )
    load = Load()
    req = Resources(1.5, GIB)
    for expected in ("a", "b"):
        chosen = place(NodeSelection(), nodes, load, req)
        assert chosen.node == expected
        load = reserve(load, expected, req)
    third = place(NodeSelection(), nodes, load, req)
    assert (third.node, third.reason) == (None, "0/2 nodes are available: 2 Insufficient cpu.")
    assert load.counts == {"a": 1, "b": 1}
    assert load.requested == {"a": req, "b": req}


def test_plan_places_pods_only_where_requests_fit_and_leaves_the_rest_unscheduled() -> None:
    """Three 1.5-cpu pods on two 2-cpu nodes: one per node, the third unscheduled with Insufficient cpu."""
    nodes = tuple(NodeView(f"node{i}", ready=True, capacity=Resources(2.0, 8 * GIB)) for i in range(2))
    load = Load()
    p = plan(make_job(parallelism=3, completions=3, requests=Resources(1.5, GIB)), nodes=nodes, load=load)
    pods = created(p)
    assert [pod.node for pod in pods] == ["node0", "node1", None]
    assert all((pod.cpu_request, pod.memory_request) == (1.5, GIB) for pod in pods)
    assert (pods[2].reason, pods[2].message) == ("Unschedulable", "0/2 nodes are available: 2 Insufficient cpu.")
    assert ("Warning", "FailedScheduling") in reasons(p.events)
    assert p.load.requested == {"node0": Resources(1.5, GIB), "node1": Resources(1.5, GIB)}
    assert load == Load()  # the caller's load is not changed: the plan returns the new one
    assert p.status.active == 3


def test_plan_skips_a_less_loaded_node_that_has_no_room() -> None:
    """Requests outweigh pod counts: a node with fewer pods but no free memory is passed over."""
    nodes = (
        NodeView("node0", ready=True, capacity=Resources(4.0, 2 * GIB), requested=Resources(0.5, 2 * GIB)),
        NodeView("node1", ready=True, capacity=Resources(4.0, 2 * GIB)),
    )
    p = plan(make_job(requests=Resources(0.5, GIB)), nodes=nodes, load=Load({"node0": 1, "node1": 5}))
    assert [pod.node for pod in created(p)] == ["node1"]


@pytest.mark.parametrize(("requested", "bound"), [(Resources(1.0, 0), True), (Resources(1.5, 0), False)])
def test_unscheduled_pod_is_bound_only_to_a_node_with_room(requested: Resources, bound: bool) -> None:
    """A pod waiting for a node is bound once its requests fit, and stays unbound (not duplicated) otherwise."""
    nodes = (NodeView("node0", ready=True, capacity=Resources(2.0, GIB), requested=requested),)
    pending = make_pod(1, PodPhase.PENDING, node=None, reason="Unschedulable")
    p = plan(make_job(requests=Resources(1.0, 0)), [pending], nodes=nodes)
    assert p.actions == ((BindPod("old-1", "node0"),) if bound else ())


# === lost nodes ==================================================================================================


@pytest.mark.parametrize(
    "pod",
    [
        make_pod(1),
        make_pod(1, PodPhase.PENDING),
        make_pod(1, PodPhase.UNKNOWN, reason="NodeUnreachable"),
        make_pod(1, restart_pending=True, failures=2, last_failure_at=LONG_AGO),
    ],
    ids=["running", "pending", "unknown", "onfailure-after-two-failures"],
)
def test_lost_pod_is_failed_with_reason_node_lost_and_unchanged_failures(pod: PodView) -> None:
    """lost(): phase Failed, reason NodeLost, finished now, no pending restart, failures unchanged."""
    out = pod_logic.lost(pod, NOW)
    assert (out.phase, out.reason, out.finished_at, out.restart_pending) == (PodPhase.FAILED, "NodeLost", NOW, False)
    assert out.failures == pod.failures
    assert out.last_failure_at == pod.last_failure_at
    assert "node0" in out.message


def test_lost_pod_of_an_index_is_not_counted_and_its_index_runs_again() -> None:
    """A pod of index 1 lost with its node does not count, and index 1 gets a new pod at once."""
    lost = pod_logic.lost(ipod(2, 1), NOW - seconds(1))
    p = plan(indexed_job(3, 3, backoff_limit=0), [ipod(1, 0), lost, isucceeded(3, 2)])
    [pod] = created(p)
    assert (pod.completion_index, pod.name) == (1, "pi-1-n1")
    assert p.status.failed == 0
    assert p.wake_at is None
    assert not has_condition(p.status.conditions, "FailureTarget")


def test_lost_pod_does_not_use_up_the_retries_of_its_index() -> None:
    """With backoffLimitPerIndex 0, a NodeLost pod neither fails its index nor raises its failure count."""
    lost = pod_logic.lost(ipod(1, 0), NOW - seconds(1))
    p = plan(indexed_job(1, 1, backoff_limit_per_index=0), [lost])
    [pod] = created(p)
    assert pod.annotations[FAILURE_COUNT_KEY] == "0"
    assert (p.status.failed_indexes, p.status.failed) == ("", 0)


def test_lost_pod_with_earlier_onfailure_failures_keeps_them_counted() -> None:
    """An OnFailure pod that failed twice before its node was lost still counts those two runs, not a third."""
    lost = pod_logic.lost(make_pod(1, restart_pending=True, failures=2, last_failure_at=LONG_AGO), NOW - seconds(1))
    p = plan(make_job(restart_policy="OnFailure", backoff_limit=5), [lost])
    assert p.status.failed == 2
    assert len(created(p)) == 1
