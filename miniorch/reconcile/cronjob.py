"""Pure CronJob planning: (cronjob, its child Jobs, now) -> Jobs to create or delete, status, events.

At most one Job per slot (deterministic names); after downtime one catch-up run
for the most recent missed slot only; concurrency policy, suspend, deadline and
history limits as Kubernetes. `status.lastConsideredTime` marks the slots already
decided (run, skipped or excluded by a spec change), so none is decided twice.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from miniorch.reconcile import cron
from miniorch.reconcile.actions import Event
from miniorch.spec.enums import ConditionType, EventReason

SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
REPLACE_RETRY = dt.timedelta(seconds=0.2)


class Concurrency(enum.StrEnum):
    ALLOW = "Allow"
    FORBID = "Forbid"
    REPLACE = "Replace"


@dataclass(frozen=True)
class CronParams:
    """What the planner needs from a CronJob's spec and metadata."""

    name: str
    generation: int
    created_at: dt.datetime
    schedule: cron.Schedule
    tz: dt.tzinfo
    concurrency: Concurrency = Concurrency.ALLOW
    suspend: bool = False
    starting_deadline: int | None = None
    successful_limit: int = 3
    failed_limit: int = 1
    deleting: bool = False


@dataclass(frozen=True)
class ChildJob:
    """A Job owned by the CronJob, as observed in the store."""

    name: str
    uid: str
    created_at: dt.datetime
    scheduled: dt.datetime | None = None
    manual: bool = False
    outcome: str | None = None  # "Complete" | "Failed" when finished
    deleting: bool = False
    start_time: dt.datetime | None = None
    completion_time: dt.datetime | None = None

    @property
    def running(self) -> bool:
        return self.outcome is None and not self.deleting


@dataclass(frozen=True)
class CronStatus:
    active: tuple[str, ...] = ()  # names of running child Jobs
    last_schedule: dt.datetime | None = None
    last_successful: dt.datetime | None = None
    last_considered: dt.datetime | None = None
    observed_generation: int | None = None


@dataclass(frozen=True)
class CreateJob:
    name: str
    scheduled: dt.datetime


@dataclass(frozen=True)
class DeleteJob:
    name: str
    uid: str
    reason: str


@dataclass(frozen=True)
class DeleteCronJob:
    pass


Action = CreateJob | DeleteJob | DeleteCronJob


@dataclass(frozen=True)
class CronPlan:
    actions: tuple[Action, ...]
    status: CronStatus
    events: tuple[Event, ...] = ()
    next_fire: dt.datetime | None = None  # the next slot: wake the controller then
    retry_at: dt.datetime | None = None  # plan again then (waiting for Jobs being deleted)


def plan_cronjob(p: CronParams, prev: CronStatus, children: Sequence[ChildJob], now: dt.datetime) -> CronPlan:
    """Decide this pass: bookkeeping of finished Jobs, at most one new Job, history cleanup."""
    if p.deleting:
        doomed = tuple(DeleteJob(c.name, c.uid, "CronJobDeleted") for c in children if not c.deleting)
        if not children:
            return CronPlan((DeleteCronJob(),), prev)
        return CronPlan(doomed, prev, retry_at=now + REPLACE_RETRY)
    events: list[Event] = []
    actions: list[Action] = []
    status = _bookkeeping(p, prev, children, now, events)
    status, create, retry = _decide(p, status, children, now, events, actions)
    if create is not None:
        actions.append(create)
        status = replace(status, active=(*status.active, create.name), last_schedule=create.scheduled)
    actions += _history(p, children, events)
    next_fire = None if p.suspend else cron.next_slot(p.schedule, now, p.tz)
    return CronPlan(tuple(actions), status, tuple(events), next_fire, retry)


def _bookkeeping(
    p: CronParams, prev: CronStatus, children: Sequence[ChildJob], now: dt.datetime, events: list[Event]
) -> CronStatus:
    by_name = {c.name: c for c in children}
    for name in prev.active:
        child = by_name.get(name)
        if child is None:
            events.append(Event("Warning", EventReason.MISSING_JOB, f"Active job went missing: {name}"))
        elif child.outcome is not None:
            events.append(
                Event("Normal", EventReason.SAW_COMPLETED_JOB, f"Saw completed job: {name}, condition: {child.outcome}")
            )
    active = tuple(c.name for c in sorted(children, key=_age_key) if c.running)
    successes = [c.completion_time for c in children if c.outcome == ConditionType.COMPLETE and c.completion_time]
    last_successful = max([*successes, *([prev.last_successful] if prev.last_successful else [])], default=None)
    considered = prev.last_considered or p.created_at
    if prev.observed_generation is not None and prev.observed_generation != p.generation:
        considered = max(considered, now)  # a new spec (schedule, unsuspend, ...) never runs an old slot
    return replace(
        prev,
        active=active,
        last_successful=last_successful,
        last_considered=considered,
        observed_generation=p.generation,
    )


def _decide(
    p: CronParams,
    status: CronStatus,
    children: Sequence[ChildJob],
    now: dt.datetime,
    events: list[Event],
    actions: list[Action],
) -> tuple[CronStatus, CreateJob | None, dt.datetime | None]:
    """The most recent undecided slot, if any, and what to do about it."""
    slot = cron.last_slot(p.schedule, now, p.tz)
    assert status.last_considered is not None
    if slot is None or slot <= status.last_considered:
        return status, None, None
    decided = replace(status, last_considered=slot)
    if p.suspend:
        return decided, None, None
    if p.starting_deadline is not None and slot + dt.timedelta(seconds=p.starting_deadline) < now:
        events.append(
            Event(
                "Warning", EventReason.MISS_SCHEDULE, f"Missed scheduled time to start a job: {_rfc1123z(slot, p.tz)}"
            )
        )
        return decided, None, None
    name = cron.job_name(p.name, p.schedule, slot)
    if any(c.name == name for c in children):
        return replace(decided, last_schedule=slot), None, None  # made before a crash, or a repeated tick
    scheduled = [c for c in children if not c.manual and c.outcome is None]
    if p.concurrency is Concurrency.FORBID and scheduled:
        events.append(
            Event(
                "Normal",
                EventReason.JOB_ALREADY_ACTIVE,
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
        )
        return decided, None, None
    if p.concurrency is Concurrency.REPLACE and scheduled:
        for child in scheduled:
            if not child.deleting:
                actions.append(DeleteJob(child.name, child.uid, "Replaced"))
                events.append(Event("Normal", EventReason.SUCCESSFUL_DELETE, f"Deleted job {child.name}"))
        running = tuple(n for n in status.active if n not in {c.name for c in scheduled})
        return replace(status, active=running), None, now + REPLACE_RETRY  # create once they are gone
    events.append(Event("Normal", EventReason.SUCCESSFUL_CREATE, f"Created job {name}"))
    return decided, CreateJob(name, slot), None


def _history(p: CronParams, children: Sequence[ChildJob], events: list[Event]) -> list[Action]:
    """Finished Jobs beyond the history limits, oldest first; running Jobs never count."""
    out: list[Action] = []
    for outcome, limit in ((ConditionType.COMPLETE, p.successful_limit), (ConditionType.FAILED, p.failed_limit)):
        finished = sorted((c for c in children if c.outcome == outcome and not c.deleting), key=_age_key)
        for child in finished[: max(0, len(finished) - limit)]:
            out.append(DeleteJob(child.name, child.uid, "HistoryLimit"))
            events.append(Event("Normal", EventReason.SUCCESSFUL_DELETE, f"Deleted job {child.name}"))
    return out


def _age_key(c: ChildJob) -> tuple[dt.datetime, str]:
    return (c.start_time or c.scheduled or c.created_at, c.name)


def _rfc1123z(t: dt.datetime, tz: dt.tzinfo) -> str:
    return t.astimezone(tz).strftime("%a, %d %b %Y %H:%M:%S %z")


# -- status <-> the Kubernetes-shaped dict kept in the store -----------------------
def _ts(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _precise(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def _parse(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def status_to_dict(s: CronStatus, namespace: str, uids: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s.active:
        out["active"] = [
            {"apiVersion": "batch/v1", "kind": "Job", "name": n, "namespace": namespace, "uid": uids.get(n, "")}
            for n in s.active
        ]
    if s.last_schedule:
        out["lastScheduleTime"] = _ts(s.last_schedule)
    if s.last_successful:
        out["lastSuccessfulTime"] = _ts(s.last_successful)
    if s.last_considered:
        out["lastConsideredTime"] = _precise(s.last_considered)
    if s.observed_generation is not None:
        out["observedGeneration"] = s.observed_generation
    return out


def status_from_dict(d: dict[str, Any]) -> CronStatus:
    generation = d.get("observedGeneration")
    return CronStatus(
        active=tuple(str(r.get("name")) for r in d.get("active", []) if isinstance(r, dict)),
        last_schedule=_parse(d.get("lastScheduleTime")),
        last_successful=_parse(d.get("lastSuccessfulTime")),
        last_considered=_parse(d.get("lastConsideredTime")),
        observed_generation=generation if isinstance(generation, int) else None,
    )


def job_manifest(cronjob: dict[str, Any], name: str, annotations: dict[str, str]) -> dict[str, Any]:
    """A Job manifest from a stored CronJob's jobTemplate (labels and annotations copied)."""
    template = cronjob.get("spec", {}).get("jobTemplate", {})
    meta = template.get("metadata", {}) or {}
    metadata: dict[str, Any] = {"name": name, "namespace": cronjob.get("metadata", {}).get("namespace", "default")}
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    metadata["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template.get("spec", {})}


def scheduled_annotation(scheduled: dt.datetime, tz: dt.tzinfo) -> dict[str, str]:
    """RFC 3339 in the CronJob's zone, as Kubernetes writes it."""
    text = scheduled.astimezone(tz).isoformat()
    return {SCHEDULED_ANNOTATION: text.removesuffix("+00:00") + ("Z" if text.endswith("+00:00") else "")}
