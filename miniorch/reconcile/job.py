"""Pure Job planning: (job, its pods, nodes, now) -> actions, status, events.

Follows the Kubernetes Job controller's `manageJob` with miniorch's counting
rule (DESIGN.md 4.1): every failed run counts, for restartPolicy Never and
OnFailure alike, and a replacement is only started while the worst case stays
within backoffLimit + 1 failed runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from miniorch.reconcile import backoff, indexes, placement, policies, startretry
from miniorch.reconcile.actions import Action, BindPod, CreatePod, DeletePod, Event, RestartPod
from miniorch.reconcile.conditions import Condition, has_condition, set_condition
from miniorch.reconcile.jobstatus import JobStatus, status_from_dict, status_to_dict
from miniorch.store.records import PodPhase, PodRecord

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
__all__ = [
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
class JobParams:
    """The parts of a Job spec the planner needs."""

    uid: str
    namespace: str
    name: str
    parallelism: int = 1
    completions: int | None = 1
    backoff_limit: int = 6
    restart_policy: str = "Never"
    suspend: bool = False
    indexed: bool = False
    backoff_limit_per_index: int | None = None
    max_failed_indexes: int | None = None
    failure_rules: tuple[policies.FailureRule, ...] = ()
    success_rules: tuple[policies.SuccessRule, ...] = ()
    active_deadline_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None
    selection: placement.NodeSelection = field(default_factory=placement.NodeSelection)
    requests: placement.Resources = field(default_factory=placement.Resources)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    container_name: str = ""


@dataclass(frozen=True)
class Timing:
    backoff_initial: float = 10.0
    backoff_max: float = 360.0


@dataclass(frozen=True)
class JobPlan:
    actions: tuple[Action, ...]
    status: JobStatus
    events: tuple[Event, ...]
    wake_at: dt.datetime | None = None
    delete_job: bool = False


@dataclass
class _Tally:
    """What the Job's pods add up to, after the podFailurePolicy."""

    active: list[PodRecord]
    terminating: list[PodRecord]
    succeeded: int
    failed: int
    ready: int
    succeeded_indexes: set[int]
    index_failures: dict[int, int]
    fail_index: set[int]
    fail_job: str | None  # message of the first FailJob match


def _fail_job_message(job: JobParams, pod: PodRecord, rule: int) -> str:
    """Kubernetes' wording for a FailJob match, by exit code or by pod condition."""
    if pod.reason in policies.DISRUPTIONS:
        return f"Pod {pod.namespace}/{pod.name} has condition DisruptionTarget matching FailJob rule at index {rule}"
    return (
        f"Container {job.container_name} for pod {pod.namespace}/{pod.name} failed with exit code "
        f"{pod.exit_code} matching FailJob rule at index {rule}"
    )


def _tally(job: JobParams, pods: Sequence[PodRecord]) -> _Tally:
    active = [p for p in pods if p.active]
    failed = 0
    index_failures: dict[int, int] = {}
    fail_index: set[int] = set()
    fail_job = None
    for pod in pods:
        if job.restart_policy == "OnFailure":
            counted = pod.failures
        else:
            outcome, rule = policies.classify(pod, job.failure_rules)
            counted = (
                0 if outcome in (policies.Outcome.IGNORE, policies.Outcome.NOT_A_FAILURE) else max(1, pod.failures)
            )
            if outcome is policies.Outcome.FAIL_JOB and fail_job is None:
                fail_job = _fail_job_message(job, pod, rule)
            if outcome is policies.Outcome.FAIL_INDEX and pod.completion_index is not None:
                fail_index.add(pod.completion_index)
        failed += counted
        if counted and pod.completion_index is not None:
            index_failures[pod.completion_index] = index_failures.get(pod.completion_index, 0) + counted
    succeeded_pods = [p for p in pods if p.phase is PodPhase.SUCCEEDED]
    return _Tally(
        active=active,
        terminating=[p for p in pods if p.terminating],
        succeeded=len(succeeded_pods),
        failed=failed,
        ready=sum(1 for p in active if p.phase is PodPhase.RUNNING and not p.restart_pending),
        succeeded_indexes={p.completion_index for p in succeeded_pods if p.completion_index is not None},
        index_failures=index_failures,
        fail_index=fail_index,
        fail_job=fail_job,
    )


def want_active(job: JobParams, succeeded: int, active: int) -> int:
    """How many pods should be running now (Kubernetes manageJob), NonIndexed."""
    if job.suspend:
        return 0
    if job.completions is None:
        return active if succeeded > 0 else job.parallelism
    return max(0, min(job.completions - succeeded, job.parallelism))


def _deletion_order(pod: PodRecord) -> tuple[int, int, float]:
    """Unscheduled before scheduled, pending before running, newest first."""
    return (pod.node is not None, pod.phase is PodPhase.RUNNING, -pod.created_at.timestamp())


def _new_pod(
    job: JobParams,
    suffix: str,
    uid: str,
    node: placement.Placement,
    now: dt.datetime,
    index: int | None,
    index_failures: int,
) -> PodRecord:
    labels = {
        **job.pod_labels,
        "job-name": job.name,
        "batch.kubernetes.io/job-name": job.name,
        "controller-uid": job.uid,
        "batch.kubernetes.io/controller-uid": job.uid,
    }
    annotations = dict(job.pod_annotations)
    name = f"{job.name}-{suffix}"
    if index is not None:
        name = f"{job.name}-{index}-{suffix}"
        labels[INDEX_KEY] = annotations[INDEX_KEY] = str(index)
        if job.backoff_limit_per_index is not None:
            annotations["batch.kubernetes.io/job-index-failure-count"] = str(index_failures)
    return PodRecord(
        uid=uid,
        name=name,
        namespace=job.namespace,
        owner_kind="Job",
        owner_name=job.name,
        owner_uid=job.uid,
        node=node.node,
        phase=PodPhase.PENDING,
        reason="" if node.node else "Unschedulable",
        message=node.reason,
        created_at=now,
        completion_index=index,
        labels=labels,
        annotations=annotations,
        cpu_request=job.requests.cpu,
        memory_request=job.requests.memory,
    )


def _failed_indexes(job: JobParams, tally: _Tally) -> set[int]:
    if job.backoff_limit_per_index is None:
        return set()
    over = {i for i, n in tally.index_failures.items() if n > job.backoff_limit_per_index}
    return (over | tally.fail_index) - tally.succeeded_indexes


def _failure(
    job: JobParams,
    tally: _Tally,
    failed_idx: set[int],
    start: dt.datetime | None,
    now: dt.datetime,
    pods: Sequence[PodRecord],
) -> tuple[str, str] | None:
    """Why the Job fails now, in Kubernetes' order of precedence, or None."""
    if tally.fail_job:
        return "PodFailurePolicy", tally.fail_job
    if tally.failed > job.backoff_limit:
        return "BackoffLimitExceeded", "Job has reached the specified backoff limit" + startretry.last_refusal(pods)
    deadline = _deadline(job, start)
    if deadline is not None and now >= deadline:
        return "DeadlineExceeded", "Job was active longer than specified deadline"
    if job.max_failed_indexes is not None and len(failed_idx) > job.max_failed_indexes:
        return "MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes"
    done = len(failed_idx | tally.succeeded_indexes)
    if job.indexed and failed_idx and job.completions is not None and done >= job.completions:
        return "FailedIndexes", "Job has failed indexes"
    return None


def _success(job: JobParams, tally: _Tally) -> tuple[str, str] | None:
    if job.indexed:
        rule = policies.matching_success_rule(job.success_rules, tally.succeeded_indexes)
        if rule is not None:
            return "SuccessPolicy", f"Matched rules at index {rule}"
        if job.completions is not None and len(tally.succeeded_indexes) >= job.completions:
            return "CompletionsReached", "Reached expected number of succeeded pods"
        return None
    ok = (tally.succeeded > 0 and not tally.active) if job.completions is None else tally.succeeded >= job.completions
    return ("CompletionsReached", "Reached expected number of succeeded pods") if ok else None


def plan_job(
    job: JobParams,
    previous: JobStatus,
    pods: Sequence[PodRecord],
    nodes: Sequence[placement.NodeView],
    load: dict[str, int],
    now: dt.datetime,
    timing: Timing,
    new_id: Callable[[], tuple[str, str]],
) -> JobPlan:
    """Plan one Job. `load` (active pods per node) is updated for pods placed here.

    `new_id()` returns a fresh (pod name suffix, uid) pair.
    """
    tally = _tally(job, pods)
    failed_idx = _failed_indexes(job, tally)
    actions: list[Action] = []
    events: list[Event] = []
    conditions = previous.conditions
    start_time = previous.start_time
    completion_time = previous.completion_time

    if previous.finished:
        return _finished_plan(job, previous, tally, failed_idx, now)

    if has_condition(conditions, "Suspended") != job.suspend:
        if job.suspend:
            conditions = set_condition(conditions, "Suspended", "JobSuspended", "Job suspended", now)
            events.append(Event("Normal", "Suspended", "Job suspended"))
        elif has_condition(conditions, "Suspended"):
            conditions = set_condition(conditions, "Suspended", "JobResumed", "Job resumed", now, status="False")
            events.append(Event("Normal", "Resumed", "Job resumed"))
            start_time = now  # as Kubernetes: the deadline clock restarts on resume
    if start_time is None and not job.suspend:
        start_time = now

    failing = has_condition(conditions, "FailureTarget")
    succeeding = has_condition(conditions, "SuccessCriteriaMet")
    if not failing and not succeeding:
        failure = _failure(job, tally, failed_idx, start_time, now, pods)
        if failure is not None:  # failure wins over success when both trigger
            failing = True
            conditions = set_condition(conditions, "FailureTarget", failure[0], failure[1], now)
            events.append(Event("Warning", failure[0], failure[1]))
        elif (success := _success(job, tally)) is not None:
            succeeding = True
            conditions = set_condition(conditions, "SuccessCriteriaMet", success[0], success[1], now)

    if failing or succeeding:
        target = next(c for c in conditions if c.type == ("FailureTarget" if failing else "SuccessCriteriaMet"))
        for pod in tally.active:
            actions.append(DeletePod(pod.uid, target.reason))
            events.append(Event("Normal", "SuccessfulDelete", f"Deleted pod: {pod.name}"))
        still = len(tally.terminating) + len(tally.active)
        if still == 0:
            final = "Failed" if failing else "Complete"
            conditions = set_condition(conditions, final, target.reason, target.message, now)
            if succeeding:
                completion_time = completion_time or now
                events.append(Event("Normal", "Completed", "Job completed"))
        status = _status(job, tally, failed_idx, 0, still, start_time, completion_time, conditions)
        ttl = job.ttl_seconds_after_finished
        expiry = now + dt.timedelta(seconds=ttl) if ttl is not None and status.finished else None
        return JobPlan(tuple(actions), status, tuple(events), wake_at=expiry)

    wake_at = _deadline(job, start_time)
    active = list(tally.active)
    ready_at = backoff.job_backoff_ready_at(pods, timing.backoff_initial, timing.backoff_max)
    backing_off = ready_at is not None and now < ready_at and job.backoff_limit_per_index is None
    if backing_off:
        wake_at = _earliest(wake_at, ready_at)

    if job.indexed:  # never two pods for one index: keep the oldest
        by_index: dict[int | None, list[PodRecord]] = {}
        for pod in sorted(active, key=lambda p: p.created_at):
            by_index.setdefault(pod.completion_index, []).append(pod)
        for group in by_index.values():
            for extra in group[1:]:
                actions.append(DeletePod(extra.uid, "DuplicateIndex"))
                events.append(Event("Normal", "SuccessfulDelete", f"Deleted pod: {extra.name}"))
                active.remove(extra)

    want = _want(job, tally, failed_idx)
    if len(active) > want:
        reason = "Suspended" if job.suspend else "ScaledDown"
        doomed = sorted(active, key=_deletion_order)[: len(active) - want]
        for pod in doomed:
            actions.append(DeletePod(pod.uid, reason))
            events.append(Event("Normal", "SuccessfulDelete", f"Deleted pod: {pod.name}"))
            active.remove(pod)

    # Pods that found no node before get another chance, in creation order.
    for pod in active:
        if pod.node is None:
            chosen = placement.place(job.selection, nodes, load, job.requests)
            if chosen.node:
                placement.reserve(load, chosen.node, job.requests)
                actions.append(BindPod(pod.uid, chosen.node))

    # Budget of runs that may still fail: backoffLimit + 1 minus failures so far
    # minus runs in progress (terminating pods may still be running: no replacement
    # takes their slot, DESIGN.md 4.2). Only limits pods started after a failure.
    in_progress = sum(1 for p in active if not p.restart_pending)
    budget = job.backoff_limit + 1 - tally.failed - in_progress - len(tally.terminating)
    for pod in active:
        if pod.restart_pending and not backing_off and budget > 0:
            budget -= 1
            if startretry.due(pod, now):
                actions.append(RestartPod(pod.uid))
            else:  # its last restart was refused by the engine: wait for the next try
                wake_at = _earliest(wake_at, startretry.next_try_at(pod))

    missing = want - len(active) - len(tally.terminating)
    if missing > 0 and not backing_off:
        room = budget if tally.failed else missing
        slots, index_wake = _slots(job, tally, failed_idx, active, pods, now, timing, min(missing, room))
        wake_at = _earliest(wake_at, index_wake)
        for index in slots:
            suffix, uid = new_id()
            chosen = placement.place(job.selection, nodes, load, job.requests)
            pod = _new_pod(job, suffix, uid, chosen, now, index, tally.index_failures.get(index or 0, 0))
            if chosen.node:
                placement.reserve(load, chosen.node, job.requests)
            else:
                events.append(Event("Warning", "FailedScheduling", chosen.reason))
            actions.append(CreatePod(pod))
            events.append(Event("Normal", "SuccessfulCreate", f"Created pod: {pod.name}"))
            active.append(pod)

    terminating = len(tally.terminating) + sum(1 for a in actions if isinstance(a, DeletePod))
    status = _status(job, tally, failed_idx, len(active), terminating, start_time, completion_time, conditions)
    return JobPlan(tuple(actions), status, tuple(events), wake_at)


def _want(job: JobParams, tally: _Tally, failed_idx: set[int]) -> int:
    if not job.indexed or job.completions is None:
        return want_active(job, tally.succeeded, len(tally.active))
    if job.suspend:
        return 0
    remaining = job.completions - len(tally.succeeded_indexes | failed_idx)
    return max(0, min(remaining, job.parallelism))


def _slots(
    job: JobParams,
    tally: _Tally,
    failed_idx: set[int],
    active: list[PodRecord],
    pods: Sequence[PodRecord],
    now: dt.datetime,
    timing: Timing,
    count: int,
) -> tuple[list[int | None], dt.datetime | None]:
    """Which pods to create: `count` NonIndexed pods, or the lowest free indexes out of backoff."""
    if not job.indexed or job.completions is None:
        return [None] * count, None
    busy = {p.completion_index for p in active + tally.terminating}
    out: list[int | None] = []
    wake: dt.datetime | None = None
    for index in range(job.completions):
        if len(out) >= count:
            break
        if index in busy or index in tally.succeeded_indexes or index in failed_idx:
            continue
        if job.backoff_limit_per_index is not None:
            ready = backoff.job_backoff_ready_at(
                [p for p in pods if p.completion_index == index], timing.backoff_initial, timing.backoff_max
            )
            if ready is not None and now < ready:
                wake = _earliest(wake, ready)
                continue
        out.append(index)
    return out, wake


def _deadline(job: JobParams, start: dt.datetime | None) -> dt.datetime | None:
    if start is None or job.active_deadline_seconds is None or job.suspend:
        return None
    return start + dt.timedelta(seconds=job.active_deadline_seconds)


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return min((t for t in (a, b) if t is not None), default=None)


def _status(
    job: JobParams,
    tally: _Tally,
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
        completed_indexes=indexes.format_intervals(tally.succeeded_indexes) if job.indexed else None,
        failed_indexes=indexes.format_intervals(failed_idx) if job.backoff_limit_per_index is not None else None,
    )


def _finished_plan(
    job: JobParams, previous: JobStatus, tally: _Tally, failed_idx: set[int], now: dt.datetime
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
        return JobPlan(tuple(actions), status, ())
    expiry = finish + dt.timedelta(seconds=job.ttl_seconds_after_finished)
    if now >= expiry:
        return JobPlan(tuple(actions), status, (), delete_job=True)
    return JobPlan(tuple(actions), status, (), wake_at=expiry)
