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

from miniorch.reconcile import placement
from miniorch.reconcile.actions import Action, BindPod, CreatePod, DeletePod, Event, RestartPod
from miniorch.reconcile.backoff import job_backoff_ready_at
from miniorch.reconcile.conditions import Condition, has_condition, set_condition
from miniorch.store.records import PodPhase, PodRecord


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
    selection: placement.NodeSelection = field(default_factory=placement.NodeSelection)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Timing:
    backoff_initial: float = 10.0
    backoff_max: float = 360.0


@dataclass(frozen=True)
class JobStatus:
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    ready: int = 0
    terminating: int = 0
    start_time: dt.datetime | None = None
    completion_time: dt.datetime | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def finished(self) -> bool:
        return has_condition(self.conditions, "Complete") or has_condition(self.conditions, "Failed")


@dataclass(frozen=True)
class JobPlan:
    actions: tuple[Action, ...]
    status: JobStatus
    events: tuple[Event, ...]
    wake_at: dt.datetime | None = None


@dataclass
class _Counts:
    active: list[PodRecord]
    succeeded: int
    failed: int
    ready: int
    terminating: int


def _count(pods: Sequence[PodRecord]) -> _Counts:
    active = [p for p in pods if p.active]
    return _Counts(
        active=active,
        succeeded=sum(1 for p in pods if p.phase is PodPhase.SUCCEEDED),
        failed=sum(p.failures for p in pods),
        ready=sum(1 for p in active if p.phase is PodPhase.RUNNING and not p.restart_pending),
        terminating=sum(1 for p in pods if p.terminating),
    )


def want_active(job: JobParams, succeeded: int, active: int) -> int:
    """How many pods should be running now (Kubernetes manageJob)."""
    if job.suspend:
        return 0
    if job.completions is None:
        return active if succeeded > 0 else job.parallelism
    return max(0, min(job.completions - succeeded, job.parallelism))


def _deletion_order(pod: PodRecord) -> tuple[int, int, float]:
    """Unscheduled before scheduled, pending before running, newest first."""
    return (pod.node is not None, pod.phase is PodPhase.RUNNING, -pod.created_at.timestamp())


def _new_pod(job: JobParams, name: str, uid: str, node: placement.Placement, now: dt.datetime) -> PodRecord:
    labels = {
        **job.pod_labels,
        "job-name": job.name,
        "batch.kubernetes.io/job-name": job.name,
        "controller-uid": job.uid,
        "batch.kubernetes.io/controller-uid": job.uid,
    }
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
        labels=labels,
        annotations=dict(job.pod_annotations),
    )


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
    counts = _count(pods)
    actions: list[Action] = []
    events: list[Event] = []
    conditions = previous.conditions
    start_time = previous.start_time
    completion_time = previous.completion_time
    wake_at: dt.datetime | None = None

    failing = has_condition(conditions, "FailureTarget") or has_condition(conditions, "Failed")
    succeeding = has_condition(conditions, "SuccessCriteriaMet") or has_condition(conditions, "Complete")
    if not failing and not succeeding:
        if counts.failed > job.backoff_limit:
            failing = True
            conditions = set_condition(
                conditions, "FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now
            )
            events.append(Event("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit"))
        elif _complete(job, counts):
            succeeding = True
            conditions = set_condition(
                conditions, "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", now
            )

    if start_time is None and not job.suspend:
        start_time = now
    if has_condition(conditions, "Suspended") != job.suspend and not (failing or succeeding):
        if job.suspend:
            conditions = set_condition(conditions, "Suspended", "JobSuspended", "Job suspended", now)
            events.append(Event("Normal", "Suspended", "Job suspended"))
        else:
            conditions = set_condition(conditions, "Suspended", "JobResumed", "Job resumed", now, status="False")
            events.append(Event("Normal", "Resumed", "Job resumed"))

    if failing or succeeding:
        reason = "BackoffLimitExceeded" if failing else "CompletionsReached"
        for pod in counts.active:
            actions.append(DeletePod(pod.uid, reason))
            events.append(Event("Normal", "SuccessfulDelete", f"Deleted pod: {pod.name}"))
        still = counts.terminating + len(counts.active)
        if still == 0:
            if failing and not has_condition(conditions, "Failed"):
                target = next(c for c in conditions if c.type == "FailureTarget")
                conditions = set_condition(conditions, "Failed", target.reason, target.message, now)
            if succeeding and not has_condition(conditions, "Complete"):
                conditions = set_condition(
                    conditions, "Complete", "CompletionsReached", "Reached expected number of succeeded pods", now
                )
                completion_time = completion_time or now
                events.append(Event("Normal", "Completed", "Job completed"))
        status = JobStatus(0, counts.succeeded, counts.failed, 0, still, start_time, completion_time, conditions)
        return JobPlan(tuple(actions), status, tuple(events))

    want = want_active(job, counts.succeeded, len(counts.active))
    active = list(counts.active)
    if len(active) > want:
        reason = "Suspended" if job.suspend else "ScaledDown"
        for pod in sorted(active, key=_deletion_order)[: len(active) - want]:
            actions.append(DeletePod(pod.uid, reason))
            events.append(Event("Normal", "SuccessfulDelete", f"Deleted pod: {pod.name}"))
            active.remove(pod)

    ready_at = job_backoff_ready_at(pods, timing.backoff_initial, timing.backoff_max)
    backing_off = ready_at is not None and now < ready_at
    if backing_off:
        wake_at = ready_at

    # Pods that found no node before get another chance, in creation order.
    for pod in active:
        if pod.node is None:
            chosen = placement.place(job.selection, nodes, load)
            if chosen.node:
                load[chosen.node] = load.get(chosen.node, 0) + 1
                actions.append(BindPod(pod.uid, chosen.node))

    # Budget of runs that may still fail: backoffLimit + 1 minus failures so far
    # minus runs in progress (terminating pods may still be running: no replacement
    # takes their slot, DESIGN.md 4.2). Only limits pods started after a failure.
    in_progress = sum(1 for p in active if not p.restart_pending)
    budget = job.backoff_limit + 1 - counts.failed - in_progress - counts.terminating
    for pod in active:
        if pod.restart_pending and not backing_off and budget > 0:
            actions.append(RestartPod(pod.uid))
            budget -= 1

    missing = want - len(active) - counts.terminating
    if missing > 0 and not backing_off:
        room = budget if counts.failed else missing
        for _ in range(min(missing, room)):
            suffix, uid = new_id()
            chosen = placement.place(job.selection, nodes, load)
            pod = _new_pod(job, f"{job.name}-{suffix}", uid, chosen, now)
            if chosen.node:
                load[chosen.node] = load.get(chosen.node, 0) + 1
            else:
                events.append(Event("Warning", "FailedScheduling", chosen.reason))
            actions.append(CreatePod(pod))
            events.append(Event("Normal", "SuccessfulCreate", f"Created pod: {pod.name}"))
            active.append(pod)

    status = JobStatus(
        active=len(active),
        succeeded=counts.succeeded,
        failed=counts.failed,
        ready=counts.ready,
        terminating=counts.terminating + sum(1 for a in actions if isinstance(a, DeletePod)),
        start_time=start_time,
        completion_time=completion_time,
        conditions=conditions,
    )
    return JobPlan(tuple(actions), status, tuple(events), wake_at)


def _complete(job: JobParams, counts: _Counts) -> bool:
    if job.completions is None:
        return counts.succeeded > 0 and not counts.active
    return counts.succeeded >= job.completions


def _ts(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _parse_ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC) if value else None


def status_to_dict(status: JobStatus) -> dict[str, object]:
    """The Kubernetes shape of a Job's status (field names as batch/v1)."""
    out: dict[str, object] = {
        "active": status.active,
        "succeeded": status.succeeded,
        "failed": status.failed,
        "ready": status.ready,
        "terminating": status.terminating,
    }
    if status.start_time:
        out["startTime"] = _ts(status.start_time)
    if status.completion_time:
        out["completionTime"] = _ts(status.completion_time)
    if status.conditions:
        out["conditions"] = [c.to_dict() for c in status.conditions]
    return out


def status_from_dict(data: Mapping[str, object]) -> JobStatus:
    conds = data.get("conditions") or []
    assert isinstance(conds, list)
    return JobStatus(
        active=int(str(data.get("active", 0))),
        succeeded=int(str(data.get("succeeded", 0))),
        failed=int(str(data.get("failed", 0))),
        ready=int(str(data.get("ready", 0))),
        terminating=int(str(data.get("terminating", 0))),
        start_time=_parse_ts(data.get("startTime")),  # type: ignore[arg-type]
        completion_time=_parse_ts(data.get("completionTime")),  # type: ignore[arg-type]
        conditions=tuple(Condition.from_dict(c) for c in conds),
    )
