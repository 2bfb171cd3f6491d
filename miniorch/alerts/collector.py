"""New Warning events -> queued notifications: facts with their failing pod's log, one delivery per receiver.

`collect()` is one synchronous pass (run off the event loop): read the events last seen after
the stored cursor (minus `OVERLAP`, for writes that committed late), build the facts not yet
queued, and write them, their deliveries and the new cursor in one transaction. A crash before
that commit leaves the cursor where it was, so the next start finds the same events again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence

import structlog

from miniorch import logtail
from miniorch.alerts import facts
from miniorch.alerts.receivers import FactType, Receiver
from miniorch.store import notifications as nq
from miniorch.store.records import EventRecord, PodPhase, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

#: Events are stamped before they commit; reading this far back catches a late commit (keys dedupe).
OVERLAP = dt.timedelta(seconds=60)
#: A finished pod is recorded a few ms before its log is kept (its replacement need not wait for the
#: engine's `logs`): a fact about it waits this long at most for the log, then goes without it.
LOG_WAIT = dt.timedelta(seconds=3)
_POD_OWNERS = ("Job", "DaemonSet", "StatefulSet")
_ID_SPACE = uuid.UUID("6d696e69-6f72-6368-2e6e-6f7469667921")


def delivery_id(fact_id: str, receiver: str) -> str:
    """The `id` a receiver sees: the same for every retry of this fact to this receiver."""
    return str(uuid.uuid5(_ID_SPACE, f"{fact_id}/{receiver}"))


def event_view(ev: EventRecord) -> facts.EventView:
    return facts.EventView(
        ev.id or 0, ev.namespace, ev.kind, ev.name, ev.uid, ev.type, ev.reason, ev.message, ev.count, ev.last_timestamp
    )


def _failed(pod: PodRecord) -> bool:
    exited_badly = pod.exit_code not in (None, 0) or pod.last_exit_code not in (None, 0)
    return pod.phase is PodPhase.FAILED or (pod.restart_pending and exited_badly) or pod.restart_count > 0


def _log_of(pod: PodRecord) -> str:
    if not pod.log_timestamped:
        return pod.log_tail
    return "".join(logtail.strip_stamp(line) for line in logtail.lines_of(pod.log_tail))


def _log_on_the_way(pod: PodRecord, now: dt.datetime) -> bool:
    if pod.log_tail or pod.container_removed or not pod.phase.terminal or pod.finished_at is None:
        return False
    return now - pod.finished_at < LOG_WAIT


def fact_of(rec: nq.FactRecord) -> facts.Fact:
    """A queued fact as the formats take it."""
    return facts.Fact(
        key=rec.key,
        type=FactType(rec.type),
        kind=rec.kind,
        namespace=rec.namespace,
        name=rec.name,
        uid=rec.uid,
        reason=rec.reason,
        message=rec.message,
        node=rec.node,
        pod=rec.pod,
        log=rec.log,
        time=rec.occurred_at,
        owner=rec.owner,
    )


def _record(fact: facts.Fact, now: dt.datetime) -> nq.FactRecord:
    return nq.FactRecord(
        id=str(uuid.uuid4()),
        key=fact.key,
        type=fact.type.value,
        kind=fact.kind,
        namespace=fact.namespace,
        name=fact.name,
        uid=fact.uid,
        reason=fact.reason,
        message=fact.message,
        node=fact.node,
        pod=fact.pod,
        log=fact.log,
        owner=fact.owner,
        occurred_at=fact.time,
        created_at=now,
    )


def _restarting(pod: PodRecord) -> facts.RestartingPod:
    when = pod.last_failure_at or pod.started_at or pod.created_at
    return facts.RestartingPod(
        pod.uid,
        pod.name,
        pod.namespace,
        pod.owner_kind,
        pod.owner_name,
        pod.owner_uid,
        pod.node,
        pod.restart_count,
        pod.last_exit_code if pod.last_exit_code is not None else pod.exit_code,
        when,
    )


class Collector:
    """Turns the store's new Warning events into queued deliveries for the configured receivers."""

    def __init__(self, store: Store, receivers: Callable[[], Sequence[Receiver]], now: Callable[[], dt.datetime]):
        self._store = store
        self._receivers = receivers
        self._now = now
        self._cursor: dt.datetime | None = None
        self._read_at: int | None = None  # the store's version the last full pass read
        self._asked_at: int | None = None  # the version `unchanged()` last saw
        self._waiting = False  # the last pass left an event for later (its pod's log not kept yet)

    def unchanged(self) -> bool:
        """Whether nothing was written since the last pass read everything, so a pass now would
        find nothing new (every event, pod and restart count moves the store's version). Read
        before the pass: a write meanwhile is seen by the next one."""
        self._asked_at = self._store.resource_version()
        return self._asked_at == self._read_at and not self._waiting

    def restarting(self) -> list[facts.RestartingPod]:
        """DaemonSet/StatefulSet pods restarted often enough to be crash-looping, not yet queued."""
        pods = [_restarting(p) for p in self._store.live_pods() if not p.phase.terminal and p.restart_count]
        crashing = {k: p for p in pods if (k := facts.crashloop_key(p)) is not None}
        known = self._store.notifications.known(crashing)
        return [p for k, p in crashing.items() if k not in known]

    def collect(self, crashing: Sequence[facts.RestartingPod] = (), logs: Mapping[str, str] | None = None) -> int:
        """One pass over the new events, plus the `crashing` pods (their logs read by the caller, by
        pod uid); the number of deliveries queued."""
        queue = self._store.notifications
        now = self._now()
        cursor = self._cursor or queue.cursor()  # this daemon alone moves it while it leads
        if cursor is None:  # first run on this database: notify from now on, not about history
            queue.enqueue([], [], now)
            self._cursor, self._read_at = now, self._asked_at
            return 0
        events = queue.events_since(cursor - OVERLAP, facts.REASONS)
        views = [event_view(e) for e in events if facts.classify(event_view(e)) is not None]
        made = [(view, self._fact_of(view, now)) for view in views]
        built = [fact for _, fact in made if fact is not None]
        waiting = [view.time for view, fact in made if fact is None]
        built += [f for p in crashing if (f := facts.crashloop(p, (logs or {}).get(p.uid, ""))) is not None]
        known = queue.known(f.key for f in built)
        records: list[nq.FactRecord] = []
        deliveries: list[nq.DeliveryRecord] = []
        for fact in {f.key: f for f in built if f.key not in known}.values():
            record = _record(fact, now)
            records.append(record)
            deliveries += self._deliveries(record, now)
            log.info("notification_fact", fact=record.type, kind=record.kind, name=record.name, reason=record.reason)
        newest = max((e.last_timestamp for e in events), default=cursor)
        if waiting:  # not past them: the next pass reads them again (OVERLAP covers what came between)
            newest = min(newest, *waiting)
        if records or newest > cursor:
            queue.enqueue(records, deliveries, max(cursor, newest))
        self._cursor = max(cursor, newest)
        self._read_at, self._waiting = self._asked_at, bool(waiting)
        return len(deliveries)

    def _fact_of(self, view: facts.EventView, now: dt.datetime) -> facts.Fact | None:
        """The fact of `view`, or None while its failing pod's log is not kept yet (`LOG_WAIT`)."""
        found = self._pods_of(view, now)
        if found is None:
            return None
        pods, owner = found
        fact = facts.build(view, pods, owner)
        assert fact is not None  # views hold facts only
        return fact

    def _pods_of(self, view: facts.EventView, now: dt.datetime) -> tuple[list[facts.PodView], str | None] | None:
        """The object's pods (the failing one with its stored log) and its owner's name; None
        while the failing pod has finished and its log is on the way to the store."""
        if view.kind not in _POD_OWNERS:
            return [], None
        obj = self._store.get_object_by_uid(view.uid)
        owner = obj.owner_name if obj is not None else None
        pods = self._store.pods_of(view.uid, with_log=False)  # a big Job's logs are read for one pod only
        shapes = [facts.PodView(p.name, p.node, _failed(p), p.finished_at or p.last_failure_at, "") for p in pods]
        chosen = facts.failing_pod(shapes, view.message)
        if chosen is None:
            return shapes, owner
        full = next((p for p in pods if p.name == chosen.name), None)
        fresh = self._store.get_pod_by_uid(full.uid) if full is not None else None
        if fresh is not None and _log_on_the_way(fresh, now):
            return None
        log_text = _log_of(fresh) if fresh is not None else ""
        return [facts.PodView(chosen.name, chosen.node, True, chosen.finished_at, log_text)], owner

    def _deliveries(self, fact: nq.FactRecord, now: dt.datetime) -> list[nq.DeliveryRecord]:
        wanted = [r for r in self._receivers() if r.wants(FactType(fact.type), fact.namespace)]
        return [
            nq.DeliveryRecord(
                id=delivery_id(fact.id, r.name),
                fact_id=fact.id,
                receiver=r.name,
                state=nq.PENDING,
                attempts=0,
                next_attempt_at=now,
                last_error="",
                created_at=now,
            )
            for r in wanted
        ]
