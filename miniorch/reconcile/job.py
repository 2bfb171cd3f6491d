"""Pure Job planning: (job, its pods, nodes, now) -> actions, status, events.

Follows the Kubernetes Job controller's `manageJob` with miniorch's counting
rule (DESIGN.md 4.1): every failed run counts, for restartPolicy Never and
OnFailure alike, and a replacement is only started while the worst case stays
within backoffLimit + 1 failed runs.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from miniorch.reconcile import backoff, indexes, jobcount, jobpods, jobsettled, placement, startretry
from miniorch.reconcile.actions import Action, BindPod, CreatePod, DeletePod, Event, RestartPod
from miniorch.reconcile.conditions import Condition, has_condition, set_condition
from miniorch.reconcile.jobparams import JobParams, Timing
from miniorch.reconcile.jobpods import INDEX_KEY, want_active
from miniorch.reconcile.jobstatus import JobStatus, status_from_dict, status_to_dict
from miniorch.reconcile.views import PodView
from miniorch.spec.enums import ConditionType, EventReason

__all__ = [
    "INDEX_KEY",
    "JobParams",
    "JobPlan",
    "JobStatus",
    "Timing",
    "plan_job",
    "status_from_dict",
    "status_to_dict",
    "want_active",
]


@dataclass(frozen=True)
class JobPlan:
    actions: tuple[Action, ...]
    status: JobStatus
    events: tuple[Event, ...]
    load: placement.Load  # the load given, plus the pods this plan places
    wake_at: dt.datetime | None = None
    delete_job: bool = False


@dataclass
class _Pass:
    """The plan being built for one Job, local to one `plan_job` call (its inputs stay untouched)."""

    job: JobParams
    counted: jobcount.Tally
    failed_idx: set[int]
    now: dt.datetime
    load: placement.Load
    conditions: tuple[Condition, ...]
    start_time: dt.datetime | None
    completion_time: dt.datetime | None
    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    wake_at: dt.datetime | None = None

    def delete(self, pod: PodView, reason: str) -> None:
        self.actions.append(DeletePod(pod.uid, reason))
        self.events.append(Event("Normal", EventReason.SUCCESSFUL_DELETE, f"Deleted pod: {pod.name}"))

    def wake(self, at: dt.datetime | None) -> None:
        self.wake_at = jobpods.earliest(self.wake_at, at)

    def status(self, active: int, terminating: int) -> JobStatus:
        return _status(
            self.job,
            self.counted,
            self.failed_idx,
            active,
            terminating,
            self.start_time,
            self.completion_time,
            self.conditions,
        )


def plan_job(
    job: JobParams,
    previous: JobStatus,
    pods: Sequence[PodView],
    nodes: Sequence[placement.NodeView],
    load: placement.Load,
    now: dt.datetime,
    timing: Timing,
    new_id: Callable[[], tuple[str, str]],
    settled: jobsettled.Settled | None = None,
) -> JobPlan:
    """Plan one Job. `load` is the active pods per node; the plan's `load` adds the pods placed here.

    `new_id()` returns a fresh (pod name suffix, uid) pair. `pods` are the Job's pods in pod order;
    with `settled` (its finished pods summed up, `jobsettled`), only the unfinished ones: the
    plan is the same, and a pass costs what the unfinished pods do.
    """
    if settled is None:
        settled, pods = jobsettled.split(pods)
    counted = jobcount.tally(job, pods, settled)
    failed_idx = jobcount.failed_indexes(job, counted)
    if previous.finished:
        return _finished_plan(job, previous, counted, failed_idx, now, load)
    b = _Pass(job, counted, failed_idx, now, load, previous.conditions, previous.start_time, previous.completion_time)
    _suspend_or_resume(b)
    failing, succeeding = _verdict(b, pods)
    if failing or succeeding:
        return _ending(b, failing, succeeding)
    return _running(b, pods, nodes, timing, new_id)


def _suspend_or_resume(b: _Pass) -> None:
    """The Suspended condition follows spec.suspend; resuming restarts the deadline clock."""
    suspended = has_condition(b.conditions, ConditionType.SUSPENDED)
    if suspended != b.job.suspend:
        if b.job.suspend:
            b.conditions = set_condition(b.conditions, ConditionType.SUSPENDED, "JobSuspended", "Job suspended", b.now)
            b.events.append(Event("Normal", EventReason.SUSPENDED, "Job suspended"))
        elif suspended:
            b.conditions = set_condition(
                b.conditions, ConditionType.SUSPENDED, "JobResumed", "Job resumed", b.now, status="False"
            )
            b.events.append(Event("Normal", EventReason.RESUMED, "Job resumed"))
            b.start_time = b.now  # as Kubernetes: the deadline clock restarts on resume
    if b.start_time is None and not b.job.suspend:
        b.start_time = b.now


def _verdict(b: _Pass, pods: Sequence[PodView]) -> tuple[bool, bool]:
    """(failing, succeeding): set FailureTarget or SuccessCriteriaMet once; failure wins when both trigger."""
    failing = has_condition(b.conditions, ConditionType.FAILURE_TARGET)
    succeeding = has_condition(b.conditions, ConditionType.SUCCESS_CRITERIA_MET)
    if failing or succeeding:
        return failing, succeeding
    failure = jobcount.failure(b.job, b.counted, b.failed_idx, b.start_time, b.now, pods)
    if failure is not None:
        b.conditions = set_condition(b.conditions, ConditionType.FAILURE_TARGET, failure[0], failure[1], b.now)
        b.events.append(Event("Warning", failure[0], failure[1]))
        return True, False
    success = jobcount.success(b.job, b.counted)
    if success is not None:
        b.conditions = set_condition(b.conditions, ConditionType.SUCCESS_CRITERIA_MET, success[0], success[1], b.now)
        return False, True
    return False, False


def _ending(b: _Pass, failing: bool, succeeding: bool) -> JobPlan:
    """The Job is failing or succeeding: stop its pods; once none runs, it is Failed or Complete."""
    wanted = ConditionType.FAILURE_TARGET if failing else ConditionType.SUCCESS_CRITERIA_MET
    target = next(c for c in b.conditions if c.type == wanted)
    for pod in b.counted.active:
        b.delete(pod, target.reason)
    still = len(b.counted.terminating) + len(b.counted.active)
    if still == 0:
        final = ConditionType.FAILED if failing else ConditionType.COMPLETE
        b.conditions = set_condition(b.conditions, final, target.reason, target.message, b.now)
        if succeeding:
            b.completion_time = b.completion_time or b.now
            b.events.append(Event("Normal", EventReason.COMPLETED, "Job completed"))
    status = b.status(0, still)
    ttl = b.job.ttl_seconds_after_finished
    expiry = b.now + dt.timedelta(seconds=ttl) if ttl is not None and status.finished else None
    return JobPlan(tuple(b.actions), status, tuple(b.events), b.load, wake_at=expiry)


def _running(
    b: _Pass,
    pods: Sequence[PodView],
    nodes: Sequence[placement.NodeView],
    timing: Timing,
    new_id: Callable[[], tuple[str, str]],
) -> JobPlan:
    """A running Job: keep the wanted number of pods, within the backoff and the failure budget."""
    job, counted = b.job, b.counted
    b.wake(jobcount.deadline(job, b.start_time))
    # The failed runs are the notable finished pods' and the unfinished pods'.
    failing = [p for p in itertools.chain(counted.settled.notable, pods) if p.failures]
    ready_at = backoff.ready_at(counted.settled.last_success, failing, timing.backoff_initial, timing.backoff_max)
    backing_off = ready_at is not None and b.now < ready_at and job.backoff_limit_per_index is None
    if backing_off:
        b.wake(ready_at)
    active = _one_per_index(b, counted.active) if job.indexed else list(counted.active)
    want = jobpods.want(job, counted, b.failed_idx)
    active = _scale_down(b, active, want)
    _bind_unscheduled(b, active, nodes)
    budget = _restart(b, active, backing_off)
    missing = want - len(active) - len(counted.terminating)
    if missing > 0 and not backing_off:
        room = budget if counted.failed else missing
        active = _create(b, active, pods, nodes, timing, new_id, min(missing, room))
    terminating = len(counted.terminating) + sum(1 for a in b.actions if isinstance(a, DeletePod))
    return JobPlan(tuple(b.actions), b.status(len(active), terminating), tuple(b.events), b.load, b.wake_at)


def _one_per_index(b: _Pass, active: Sequence[PodView]) -> list[PodView]:
    """Never two pods for one index: keep the oldest."""
    by_index: dict[int | None, list[PodView]] = {}
    for pod in sorted(active, key=lambda p: p.created_at):
        by_index.setdefault(pod.completion_index, []).append(pod)
    extras = [extra for group in by_index.values() for extra in group[1:]]
    for extra in extras:
        b.delete(extra, "DuplicateIndex")
    dropped = {p.uid for p in extras}
    return [p for p in active if p.uid not in dropped]


def _scale_down(b: _Pass, active: list[PodView], want: int) -> list[PodView]:
    if len(active) <= want:
        return active
    reason = "Suspended" if b.job.suspend else "ScaledDown"
    doomed = sorted(active, key=jobpods.deletion_order)[: len(active) - want]
    for pod in doomed:
        b.delete(pod, reason)
    dropped = {p.uid for p in doomed}
    return [p for p in active if p.uid not in dropped]


def _bind_unscheduled(b: _Pass, active: Sequence[PodView], nodes: Sequence[placement.NodeView]) -> None:
    """Pods that found no node before get another chance, in creation order."""
    for pod in active:
        if pod.node is None:
            chosen = placement.place(b.job.selection, nodes, b.load, b.job.requests)
            if chosen.node:
                b.load = placement.reserve(b.load, chosen.node, b.job.requests)
                b.actions.append(BindPod(pod.uid, chosen.node))


def _restart(b: _Pass, active: Sequence[PodView], backing_off: bool) -> int:
    """Restart OnFailure pods within the budget; returns the budget left.

    Budget of runs that may still fail: backoffLimit + 1 minus failures so far minus runs in
    progress (terminating pods may still be running: no replacement takes their slot, DESIGN.md
    4.2). Only limits pods started after a failure.
    """
    in_progress = sum(1 for p in active if not p.restart_pending)
    budget = b.job.backoff_limit + 1 - b.counted.failed - in_progress - len(b.counted.terminating)
    for pod in active:
        if pod.restart_pending and not backing_off and budget > 0:
            budget -= 1
            if startretry.due(pod, b.now):
                b.actions.append(RestartPod(pod.uid))
            else:  # its last restart was refused by the engine: wait for the next try
                b.wake(startretry.next_try_at(pod))
    return budget


def _create(
    b: _Pass,
    active: list[PodView],
    pods: Sequence[PodView],
    nodes: Sequence[placement.NodeView],
    timing: Timing,
    new_id: Callable[[], tuple[str, str]],
    count: int,
) -> list[PodView]:
    """Create up to `count` pods (NonIndexed, or the lowest free indexes); returns the active pods."""
    job = b.job
    slots, index_wake = jobpods.slots(job, b.counted, b.failed_idx, active, pods, b.now, timing, count)
    b.wake(index_wake)
    created = []
    for index in slots:
        suffix, uid = new_id()
        chosen = placement.place(job.selection, nodes, b.load, job.requests)
        pod = jobpods.new_pod(job, suffix, uid, chosen, b.now, index, b.counted.index_failures.get(index or 0, 0))
        if chosen.node:
            b.load = placement.reserve(b.load, chosen.node, job.requests)
        else:
            b.events.append(Event("Warning", EventReason.FAILED_SCHEDULING, chosen.reason))
        b.actions.append(CreatePod(pod))
        b.events.append(Event("Normal", EventReason.SUCCESSFUL_CREATE, f"Created pod: {pod.name}"))
        created.append(pod)
    return [*active, *created]


def _status(
    job: JobParams,
    tally: jobcount.Tally,
    failed_idx: set[int],
    active: int,
    terminating: int,
    start: dt.datetime | None,
    completion: dt.datetime | None,
    conditions: tuple[Condition, ...],
) -> JobStatus:
    ready = tally.ready if active else 0
    return JobStatus(
        active=active,
        succeeded=tally.succeeded,
        failed=tally.failed,
        ready=ready,
        terminating=terminating,
        start_time=start,
        completion_time=completion,
        conditions=conditions,
        completed_indexes=tally.settled.completed_indexes() if job.indexed else None,
        failed_indexes=indexes.format_intervals(failed_idx) if job.backoff_limit_per_index is not None else None,
    )


def _finished_plan(
    job: JobParams,
    previous: JobStatus,
    tally: jobcount.Tally,
    failed_idx: set[int],
    now: dt.datetime,
    load: placement.Load,
) -> JobPlan:
    """A finished Job: stop stragglers; delete it `ttlSecondsAfterFinished` after it finished."""
    actions: list[Action] = [DeletePod(p.uid, "JobFinished") for p in tally.active]
    status = _status(
        job,
        tally,
        failed_idx,
        0,
        len(tally.terminating) + len(actions),
        previous.start_time,
        previous.completion_time,
        previous.conditions,
    )
    finish = previous.finish_time
    if job.ttl_seconds_after_finished is None or finish is None:
        return JobPlan(tuple(actions), status, (), load)
    expiry = finish + dt.timedelta(seconds=job.ttl_seconds_after_finished)
    if now >= expiry:
        return JobPlan(tuple(actions), status, (), load, delete_job=True)
    return JobPlan(tuple(actions), status, (), load, wake_at=expiry)
