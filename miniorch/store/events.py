"""Events in the Store: Kubernetes-style, aggregated (the same object, reason and message counts up).

Events expire EVENT_TTL after they were last seen, as with kube-apiserver's `--event-ttl`: a
CronJob adds a few events per run whose messages name the run, so without an end they were
most of a long-lived database. The expiry runs within a write, at most once per PRUNE_EVERY of
the events' own times (no clock read here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy

from miniorch.store import versions
from miniorch.store.connect import Db
from miniorch.store.records import EventRecord, ObjectRecord
from miniorch.store.rows import EVENTS, RowMapper, column_values

_C = EVENTS.c
EVENT_TTL = dt.timedelta(hours=1)
PRUNE_EVERY = dt.timedelta(minutes=1)
_EVENT = RowMapper(EVENTS, EventRecord)
_BUMP_EVENT = (
    EVENTS.update()
    .where(
        (_C.uid == sqlalchemy.bindparam("key_uid"))
        & (_C.reason == sqlalchemy.bindparam("key_reason"))
        & (_C.message == sqlalchemy.bindparam("key_message"))
    )
    .values(
        count=_C.count + 1,
        last_timestamp=sqlalchemy.bindparam("last_timestamp"),
        message=sqlalchemy.bindparam("new_message"),
        resource_version=sqlalchemy.bindparam("rv"),
    )
    .returning(_C.id)
)
_INSERT_EVENT = EVENTS.insert().returning(_C.id)  # built once, as the bump (one per new event)


def object_event(obj: ObjectRecord, type_: str, reason: str, message: str, now: dt.datetime) -> EventRecord:
    """An event about a workload object, first and last seen `now`."""
    return EventRecord(
        obj.namespace, obj.kind, obj.name, obj.uid, type_, reason, message, first_timestamp=now, last_timestamp=now
    )


class Events:
    def __init__(self, db: Db) -> None:
        self._db = db
        self._pruned_at: dt.datetime | None = None  # the event time of the last expiry

    def record(self, ev: EventRecord, replaces: str | None) -> None:
        self.record_all([(ev, replaces)])

    def record_all(self, events: Sequence[tuple[EventRecord, str | None]]) -> None:
        """Each event (with the message it replaces, if any), in one transaction."""
        if not events:
            return
        with self._db.lock, self._db.engine.begin() as conn:
            first, changes = versions.reserve(conn, len(events)), []
            for rv, (ev, replaces) in enumerate(events, start=first):
                message = ev.message if replaces is None else replaces
                key = {"key_uid": ev.uid, "key_reason": ev.reason, "key_message": message}
                values = {"last_timestamp": ev.last_timestamp, "new_message": ev.message, "rv": rv}
                found, change = conn.execute(_BUMP_EVENT, {**key, **values}).first(), versions.MODIFIED
                if found is None:
                    row = {**column_values(ev, EVENTS, leave_out=("id",)), "resource_version": rv}
                    found, change = conn.execute(_INSERT_EVENT, row).first(), versions.ADDED
                    self._expire(conn, ev.last_timestamp)
                assert found is not None
                name = f"{ev.name}.{found.id}"  # the served Event's name (`render.event`)
                changes.append(versions.Change(rv, "Event", ev.namespace, name, str(found.id), change))
            versions.log(conn, changes)

    def _expire(self, conn: sqlalchemy.Connection, now: dt.datetime) -> None:
        """Forget the events last seen more than EVENT_TTL before `now` (an index range: 0006)."""
        if self._pruned_at is not None and abs(now - self._pruned_at) < PRUNE_EVERY:
            return
        self._pruned_at = now
        conn.execute(EVENTS.delete().where(_C.last_timestamp < now - EVENT_TTL))

    def all(self, namespace: str | None, uid: str | None) -> list[EventRecord]:
        query = _EVENT.matching({"namespace": namespace, "uid": uid})
        with self._db.engine.connect() as conn:
            return _EVENT.all(conn, query.order_by(_C.last_timestamp, _C.id))
