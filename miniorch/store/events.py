"""Events in the Store: Kubernetes-style, aggregated (the same object, reason and message counts up).

Events expire EVENT_TTL after they were last seen, as with kube-apiserver's `--event-ttl`: a
CronJob adds a few events per run whose messages name the run, so without an end they were
most of a long-lived database. The expiry runs within a write, at most once per PRUNE_EVERY of
the events' own times (no clock read here).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

import sqlalchemy

from miniorch.store import versions
from miniorch.store.caches import EventKeys
from miniorch.store.connect import Db
from miniorch.store.records import EventRecord, ObjectRecord
from miniorch.store.rows import EVENTS, RowMapper, column_values

_C = EVENTS.c
EVENT_TTL = dt.timedelta(hours=1)
PRUNE_EVERY = dt.timedelta(minutes=1)
_EVENT = RowMapper(EVENTS, EventRecord)
_Keys = dict[tuple[str, str], list[int]]  # an object's events: (reason, message) -> row ids
# The row is found by id (the key cache's); its key is checked too, so an id gone or reused
# since bumps nothing: the event is then inserted, as when no row had the key.
_BUMP_EVENT = (
    EVENTS.update()
    .where(
        _C.id.in_(sqlalchemy.bindparam("ids", expanding=True))
        & (_C.uid == sqlalchemy.bindparam("key_uid"))
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
_KEYS = sqlalchemy.select(_C.id, _C.reason, _C.message).where(_C.uid == sqlalchemy.bindparam("uid"))


def object_event(obj: ObjectRecord, type_: str, reason: str, message: str, now: dt.datetime) -> EventRecord:
    """An event about a workload object, first and last seen `now`."""
    return EventRecord(
        obj.namespace, obj.kind, obj.name, obj.uid, type_, reason, message, first_timestamp=now, last_timestamp=now
    )


def _keys_of(conn: sqlalchemy.Connection, uid: str) -> list[tuple[int, str, str]]:
    """(id, reason, message) of the object's event rows."""
    return [(row.id, row.reason, row.message) for row in conn.execute(_KEYS, {"uid": uid})]


class Events:
    def __init__(self, db: Db, keys: EventKeys) -> None:
        self._db = db
        self._keys = keys  # under the write lock, changed after commit (`caches`)
        self._pruned_at: dt.datetime | None = None  # the event time of the last expiry

    def record(self, ev: EventRecord, replaces: str | None) -> None:
        self.record_all([(ev, replaces)])

    def record_all(self, events: Sequence[tuple[EventRecord, str | None]]) -> None:
        """Each event (with the message it replaces, if any), in one transaction."""
        if not events:
            return
        with self._db.lock:
            written: dict[str, _Keys] = {}  # uid -> the keys this transaction changed -> their ids
            try:
                self._record(events, written)
            except BaseException:
                self._keys.clear()  # what it read inside the rolled-back transaction may not hold
                raise
            for uid, keys in written.items():
                self._keys.written(uid, keys)

    def _record(self, events: Sequence[tuple[EventRecord, str | None]], written: dict[str, _Keys]) -> None:
        """`record_all`'s transaction (under the lock); `written` gets the keys it changed, by uid."""
        with self._db.engine.begin() as conn:
            first, changes = versions.reserve(conn, len(events)), []
            for rv, (ev, replaces) in enumerate(events, start=first):
                known = self._keys.ids(ev.uid, functools.partial(_keys_of, conn, ev.uid))
                found, change = self._write(conn, rv, ev, replaces, known, written.setdefault(ev.uid, {}))
                name = f"{ev.name}.{found}"  # the served Event's name (`render.event`)
                changes.append(versions.Change(rv, "Event", ev.namespace, name, str(found), change))
            versions.log(conn, changes)

    def _write(
        self, conn: sqlalchemy.Connection, rv: int, ev: EventRecord, replaces: str | None, known: _Keys, mine: _Keys
    ) -> tuple[int, str]:
        """Bump the rows with the event's key (`replaces` for its message, if given) or insert it;
        `mine` (this transaction's keys of its object, over `known`) follows. Returns (id, change)."""
        message = ev.message if replaces is None else replaces
        ids = mine.get((ev.reason, message), known.get((ev.reason, message), []))
        found = None
        if ids:
            key = {"ids": ids, "key_uid": ev.uid, "key_reason": ev.reason, "key_message": message}
            values = {"last_timestamp": ev.last_timestamp, "new_message": ev.message, "rv": rv}
            found, change = conn.execute(_BUMP_EVENT, {**key, **values}).first(), versions.MODIFIED
        if found is None:
            row = {**column_values(ev, EVENTS, leave_out=("id",)), "resource_version": rv}
            found, change, ids = conn.execute(_INSERT_EVENT, row).first(), versions.ADDED, []
            self._expire(conn, ev.last_timestamp)
        assert found is not None
        if message != ev.message:  # the bumped rows carry the new message now
            mine[(ev.reason, message)] = []
        now = (ev.reason, ev.message)
        mine[now] = sorted({*mine.get(now, known.get(now, [])), *ids, found.id})
        return int(found.id), change

    def _expire(self, conn: sqlalchemy.Connection, now: dt.datetime) -> None:
        """Forget the events last seen more than EVENT_TTL before `now` (an index range: 0006)."""
        if self._pruned_at is not None and abs(now - self._pruned_at) < PRUNE_EVERY:
            return
        self._pruned_at = now
        conn.execute(EVENTS.delete().where(_C.last_timestamp < now - EVENT_TTL))
        self._keys.clear()  # (ids of expired rows would only bump nothing; the next write reads them again)

    def all(self, namespace: str | None, uid: str | None) -> list[EventRecord]:
        query = _EVENT.matching({"namespace": namespace, "uid": uid})
        with self._db.engine.connect() as conn:
            return _EVENT.all(conn, query.order_by(_C.last_timestamp, _C.id))
