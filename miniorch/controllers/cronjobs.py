"""The CronJob controller: APScheduler wakes it at each CronJob's next slot; the store decides.

A pass (a scheduler fire, an API change, or a resync) reads every CronJob and its Jobs,
runs the pure planner (`miniorch.reconcile.cronjob`), creates or deletes Jobs in the
store (the Job controller runs their pods) and records status and events. Each CronJob is
one APScheduler job on its own `CronSlotTrigger`; a fire only wakes the pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from miniorch import clock as clock_mod
from miniorch import kinds
from miniorch.controllers import objects, outage
from miniorch.controllers.crontrigger import CronSlotTrigger
from miniorch.controllers.storeio import store_io
from miniorch.reconcile import cron
from miniorch.reconcile import cronjob as plan_mod
from miniorch.reconcile.actions import Event
from miniorch.spec import loader
from miniorch.spec.errors import ManifestInvalid
from miniorch.spec.workloads import CronJob
from miniorch.store.errors import StoreUnavailable
from miniorch.store.events import object_event
from miniorch.store.kept import Kept
from miniorch.store.records import EventRecord, ObjectRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

RESYNC_SECONDS = 30.0  # nothing running: the scheduler's fires are enough, this is a safety net
BUSY_RESYNC_SECONDS = 0.5  # some Job is running or being deleted: notice its end promptly
MAX_CHILDREN = 50_000  # Jobs' views kept between passes (a few hundred bytes each)


def params_of(obj: ObjectRecord) -> plan_mod.CronParams:
    """The planner's view of a stored CronJob; raises ManifestInvalid / ValueError if it no longer parses."""
    model = loader.parse_object(obj.manifest, source=f"cronjob/{obj.name}").obj
    assert isinstance(model, CronJob)
    spec = model.spec
    return plan_mod.CronParams(
        name=obj.name,
        generation=obj.generation,
        created_at=obj.created_at,
        schedule=cron.parse(spec.schedule),
        tz=cron.zone(spec.time_zone),
        concurrency=plan_mod.Concurrency(spec.concurrency_policy),
        suspend=spec.suspend,
        starting_deadline=spec.starting_deadline_seconds,
        successful_limit=spec.successful_jobs_history_limit,
        failed_limit=spec.failed_jobs_history_limit,
    )


def child_view(job: ObjectRecord) -> plan_mod.ChildJob:
    """What the planner needs to know about one of the CronJob's Jobs."""
    annotations = job.manifest.get("metadata", {}).get("annotations") or {}
    status = job.status
    outcome = kinds.get(job.kind).outcome(status)
    return plan_mod.ChildJob(
        name=job.name,
        uid=job.uid,
        created_at=job.created_at,
        scheduled=_time(annotations.get(plan_mod.SCHEDULED_ANNOTATION)),
        manual=annotations.get(plan_mod.INSTANTIATE_ANNOTATION) == "manual",
        outcome=outcome,
        deleting=job.deleting,
        start_time=_time(status.get("startTime")),
        completion_time=_time(status.get("completionTime")),
    )


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    with contextlib.suppress(ValueError):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)
    return None


def create_job(
    store: Store,
    applier: objects.Applier,
    cronjob: ObjectRecord,
    name: str,
    annotations: dict[str, str],
    now: dt.datetime,
) -> ObjectRecord | None:
    """Store a Job made from the CronJob's template, owned by it; None if one of that name exists.

    Raises ManifestInvalid when the daemon's policy no longer allows the template.
    """
    record = job_record(applier, cronjob, name, annotations, now)
    return record if store.add_object_if_absent(record) else None


def job_record(
    applier: objects.Applier, cronjob: ObjectRecord, name: str, annotations: dict[str, str], now: dt.datetime
) -> ObjectRecord:
    """The Job the CronJob's template makes, owned by it, not yet stored. Raises ManifestInvalid
    when the daemon's policy no longer allows the template."""
    source = f"cronjob/{cronjob.name}"
    manifest = loader.parse_object(plan_mod.job_manifest(cronjob.manifest, name, annotations), source=source)
    applier.check([manifest], source, new=True)  # a name taken meanwhile: the store's add says so
    data = objects.normalized(manifest)
    uid = str(uuid.uuid4())
    data["metadata"].update(uid=uid, creationTimestamp=now.strftime("%Y-%m-%dT%H:%M:%SZ"), generation=1)
    return ObjectRecord(
        uid,
        "Job",
        cronjob.namespace,
        name,
        data,
        {},
        source,
        1,
        created_at=now,
        owner_kind="CronJob",
        owner_name=cronjob.name,
        owner_uid=cronjob.uid,
    )


@dataclass
class _Planned:
    """One CronJob's part of a pass, planned: the Jobs to create and what to record after."""

    cj: ObjectRecord
    params: plan_mod.CronParams
    prev: plan_mod.CronStatus
    plan: plan_mod.CronPlan
    status: plan_mod.CronStatus
    uids: dict[str, str]  # Job name -> uid
    creates: list[tuple[str, dt.datetime, ObjectRecord]] = field(default_factory=list)  # name, slot, Job


class CronJobController:
    """The CronJob pass and its scheduler. The pass runs on the I/O thread pool (`store_io`), so
    `wake_jobs` (the workload loop's wake-up) must be safe from any thread."""

    def __init__(
        self, store: Store, applier: objects.Applier, clock: clock_mod.Clock, wake_jobs: Callable[[], None]
    ) -> None:
        self._store = store
        self._applier = applier
        self._clock = clock
        self._wake_jobs = wake_jobs
        self._wake = asyncio.Event()
        self._scheduler: AsyncIOScheduler | None = None
        self._armed: dict[str, tuple[str, str]] = {}  # uid -> the trigger key of its scheduler job
        self._params: dict[tuple[str, int], plan_mod.CronParams | str] = {}
        self._children: Kept[plan_mod.ChildJob] = Kept(MAX_CHILDREN)  # each Job's view, by its version
        self._wake_at: dt.datetime | None = None
        self._busy = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Plan again soon; safe from any thread (API routes run in a thread pool)."""
        loop = self._loop
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if loop is None or current is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    def next_fire(self, uid: str) -> dt.datetime | None:
        """When the scheduler next wakes the pass for this CronJob; None while it is not armed."""
        job = self._scheduler.get_job(uid) if self._scheduler is not None else None
        return job.next_run_time if job is not None else None

    async def _fire(self, uid: str) -> None:
        """APScheduler calls this at a CronJob's slot; the pass that follows decides."""
        self._wake.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        # A fire is only a wake-up and the pass decides from the store, so APScheduler must neither
        # drop a late fire (no misfire grace limit) nor deliver several (coalesce): startingDeadlineSeconds
        # and the one catch-up run for missed slots are the planner's.
        self._scheduler = AsyncIOScheduler(
            timezone=dt.UTC,
            event_loop=asyncio.get_running_loop(),
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._scheduler.start()
        self._outage = outage.Outage("cronjobs")
        self._wake.set()  # the first pass runs at once: catch-up after downtime, arming every CronJob
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._timeout()):  # not wait_for: see WorkloadController.run
                        await self._wake.wait()
                self._wake.clear()
                try:
                    await store_io(self.reconcile_once)  # a batch of store writes: off the event loop
                except StoreUnavailable as exc:  # a slot missed meanwhile is caught up once, as after downtime
                    await asyncio.sleep(self._outage.failed(exc))
                    self._wake.set()
                else:
                    self._outage.worked()
        finally:
            self._scheduler.shutdown(wait=False)

    def _timeout(self) -> float:
        timeout = BUSY_RESYNC_SECONDS if self._busy else RESYNC_SECONDS
        if self._wake_at is not None:
            timeout = min(timeout, (self._wake_at - self._clock.now()).total_seconds())
        return max(0.0, timeout)

    # -- one pass -------------------------------------------------------------
    def reconcile_once(self) -> None:
        """Plan every CronJob, then write: the Jobs of all CronJobs due at one tick in one
        transaction, their statuses in one and their events in one (300 CronJobs on `* * * * *`)."""
        now = self._clock.now()
        cronjobs = self._store.objects_to_reconcile(["CronJob"], set())  # never finished: all, from memory
        owned = self._store.owned_versions("CronJob")
        owner_of = {uid: owner for uid, _, owner in owned}
        children: dict[str, list[plan_mod.ChildJob]] = defaultdict(list)
        for view in self._children.served([(uid, rv) for uid, rv, _ in owned], self._child_views):
            children[owner_of[view.uid]].append(view)
        self._wake_at, self._busy = None, False
        planned = []
        for cj in cronjobs:
            with structlog.contextvars.bound_contextvars(cronjob=cj.name, namespace=cj.namespace):
                one = self._plan(cj, children.get(cj.uid, []), now)
            if one is not None:
                planned.append(one)
        self._write(planned, now)
        for uid in set(self._armed) - {cj.uid for cj in cronjobs}:
            self._disarm(uid)

    def _params_of(self, cj: ObjectRecord) -> plan_mod.CronParams | str:
        """Cached by (uid, generation): a spec only changes with its generation. A str is the parse error."""
        key = (cj.uid, cj.generation)
        cached = self._params.get(key)
        if cached is None:
            if len(self._params) > 8192:
                self._params.clear()
            try:
                cached = params_of(cj)
            except (ManifestInvalid, ValueError) as exc:
                cached = str(exc)
            self._params[key] = cached
        return cached

    def _child_views(self, uids: list[str]) -> dict[str, plan_mod.ChildJob]:
        """The views of Jobs new or written since the last pass (the rest are kept by version)."""
        return {uid: child_view(job) for uid, job in self._store.objects_by_uid(uids).items()}

    def _plan(self, cj: ObjectRecord, views: Sequence[plan_mod.ChildJob], now: dt.datetime) -> _Planned | None:
        params = self._params_of(cj)
        if isinstance(params, str):
            if cj.deleting and not views:
                self._forget(cj)
            else:
                self._record(cj, [Event("Warning", "UnparseableSchedule", params)], now)
            return None
        params = replace(params, deleting=cj.deleting)
        prev = plan_mod.status_from_dict(cj.status)
        plan = plan_mod.plan_cronjob(params, prev, views, now)
        one = _Planned(cj, params, prev, plan, plan.status, {v.name: v.uid for v in views})
        for action in plan.actions:
            match action:
                case plan_mod.CreateJob(name=name, scheduled=scheduled):
                    annotations = plan_mod.scheduled_annotation(scheduled, params.tz)
                    try:
                        one.creates.append((name, scheduled, job_record(self._applier, cj, name, annotations, now)))
                    except (ManifestInvalid, objects.Conflict) as exc:
                        self._record(cj, [Event("Warning", "FailedCreate", f"Error creating job {name}: {exc}")], now)
                        log.warning("cronjob_create_failed", job=name, error=str(exc))
                        one.status = self._not_created(one, name)
                case plan_mod.DeleteJob(name=name, uid=uid, reason=reason):
                    self._store.mark_deleting(uid)
                    log.info("cronjob_job_deleted", job=name, reason=reason)
                    self._wake_jobs()
                case plan_mod.DeleteCronJob():
                    self._forget(cj)
                    return None
        if any(v.outcome is None or v.deleting for v in views) or plan.actions:
            self._busy = True
        return one

    @staticmethod
    def _not_created(one: _Planned, name: str) -> plan_mod.CronStatus:
        """The status as if the slot's Job had not been planned: not active, the last schedule as it was."""
        active = tuple(n for n in one.status.active if n != name)
        return replace(one.status, active=active, last_schedule=one.prev.last_schedule)

    def _write(self, planned: Sequence[_Planned], now: dt.datetime) -> None:
        added = self._store.add_objects_if_absent([job for one in planned for _, _, job in one.creates])
        if added:
            self._wake_jobs()
        created_at = self._clock.now()  # tick -> Job created: when the transaction committed
        statuses: list[tuple[str, dict[str, Any]]] = []
        events = []
        for one in planned:
            cj = one.cj
            with structlog.contextvars.bound_contextvars(cronjob=cj.name, namespace=cj.namespace):
                for name, scheduled, job in one.creates:
                    if job.uid in added:
                        one.uids[name] = job.uid
                        late = round((created_at - scheduled).total_seconds(), 3)
                        log.info("cronjob_fired", job=name, scheduled=scheduled.isoformat(), late_seconds=late)
                        continue
                    # A Job of that name appeared meanwhile (a manual one): never a second one.
                    log.info("cronjob_job_exists", job=name)
                    existing = self._store.get_object("Job", cj.namespace, name)
                    if existing is not None:
                        one.uids[name] = existing.uid
                    else:
                        one.status = self._not_created(one, name)
                events += self._events(cj, one.plan.events, now)
            saved = plan_mod.status_to_dict(one.status, cj.namespace, one.uids)
            if saved != cj.status:
                statuses.append((cj.uid, saved))
            self._arm(cj.uid, one.params, one.plan.next_fire)
            if one.plan.retry_at and (self._wake_at is None or one.plan.retry_at < self._wake_at):
                self._wake_at = one.plan.retry_at
        self._store.save_statuses(statuses)
        self._store.record_events(events)

    def _forget(self, cj: ObjectRecord) -> None:
        self._store.delete_object(cj.uid)
        self._disarm(cj.uid)
        log.info("cronjob_deleted")

    @staticmethod
    def _events(cj: ObjectRecord, events: Sequence[Event], now: dt.datetime) -> list[EventRecord]:
        for ev in events:
            if ev.type == "Warning":
                log.warning("cronjob_warning", reason=ev.reason, message=ev.message)
        return [object_event(cj, ev.type, ev.reason, ev.message, now) for ev in events]

    def _record(self, cj: ObjectRecord, events: Sequence[Event], now: dt.datetime) -> None:
        self._store.record_events(self._events(cj, events, now))

    def _arm(self, uid: str, params: plan_mod.CronParams, first: dt.datetime | None) -> None:
        """Keep the CronJob's scheduler job: added when first seen or resumed, replaced when its
        schedule or zone changes, removed when suspended. `first` is the planner's next slot after
        this pass's `now`: the trigger computes every fire after it."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        if first is None:  # suspended, or no slot ever again
            self._disarm(uid)
            return
        trigger = CronSlotTrigger(params.schedule, params.tz)
        if self._armed.get(uid) != trigger.key or scheduler.get_job(uid) is None:
            scheduler.add_job(self._fire, trigger, args=[uid], id=uid, replace_existing=True, next_run_time=first)
            self._armed[uid] = trigger.key

    def _disarm(self, uid: str) -> None:
        """The CronJob is gone or suspended: its scheduler job goes too."""
        if self._armed.pop(uid, None) is not None and self._scheduler is not None:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(uid)
