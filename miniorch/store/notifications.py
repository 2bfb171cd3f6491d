"""Failure notifications in the Store: facts, one delivery row per (fact, receiver), and the cursor.

The collector reads new Warning events past its cursor (`events_since`) and writes their
facts, their deliveries and the moved cursor in one transaction (`enqueue`), so a fact is
queued exactly once and survives a crash. The delivery worker takes due rows (`due`) and
records each attempt (`settle`): pending -> delivered, or pending (next try) -> failed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy
from sqlalchemy import Column, DateTime, Table, Text
from sqlmodel import Field, SQLModel

from miniorch.store.connect import Db
from miniorch.store.records import EventRecord
from miniorch.store.rows import EVENTS, META, RowMapper, column_values, upsert

CURSOR_KEY = "notify_events_cursor"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def _ts(**kw: Any) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), **kw))


class NotificationFactRow(SQLModel, table=True):
    __tablename__ = "notification_facts"
    id: str = Field(primary_key=True)
    key: str = Field(unique=True)  # one occurrence of an event: "event:<id>:<count>"
    type: str
    kind: str
    namespace: str
    name: str
    uid: str
    reason: str
    message: str = Field(sa_column=Column(Text))
    node: str | None = None
    pod: str | None = None
    log: str = Field(default="", sa_column=Column(Text))
    owner: str | None = None
    occurred_at: dt.datetime | None = _ts()
    created_at: dt.datetime | None = _ts()


class NotificationDeliveryRow(SQLModel, table=True):
    __tablename__ = "notification_deliveries"
    id: str = Field(primary_key=True)  # the `id` in the body: stable per fact and receiver
    fact_id: str = Field(index=True)
    receiver: str
    state: str = Field(index=True)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = _ts()
    last_error: str = Field(default="", sa_column=Column(Text))
    created_at: dt.datetime | None = _ts()
    delivered_at: dt.datetime | None = _ts()


FACTS: Table = NotificationFactRow.__table__  # type: ignore[attr-defined]
DELIVERIES: Table = NotificationDeliveryRow.__table__  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True)
class FactRecord:
    id: str
    key: str
    type: str
    kind: str
    namespace: str
    name: str
    uid: str
    reason: str
    message: str
    node: str | None
    pod: str | None
    log: str
    owner: str | None
    occurred_at: dt.datetime
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class DeliveryRecord:
    id: str
    fact_id: str
    receiver: str
    state: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None


_FACT = RowMapper(FACTS, FactRecord)
_DELIVERY = RowMapper(DELIVERIES, DeliveryRecord)
_EVENT = RowMapper(EVENTS, EventRecord)


def _utc(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value if isinstance(value, dt.datetime) else None


class Notifications:
    """The notification queue; every write commits before it returns."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def cursor(self) -> dt.datetime | None:
        """Where the collector's last read ended (None: it never ran on this database)."""
        with self._db.engine.connect() as conn:
            found = conn.execute(sqlalchemy.select(META.c.value).where(META.c.key == CURSOR_KEY)).scalar()
        return _utc(found)

    def events_since(self, since: dt.datetime, reasons: Sequence[str]) -> list[EventRecord]:
        """Warning events with one of `reasons` last seen after `since`, oldest first (index on last_timestamp)."""
        c = EVENTS.c
        query = (
            _EVENT.select()
            .where(c.last_timestamp > since, c.type == "Warning", c.reason.in_(list(reasons)))
            .order_by(c.last_timestamp, c.id)
        )
        with self._db.engine.connect() as conn:
            return _EVENT.all(conn, query)

    def known(self, keys: Iterable[str]) -> set[str]:
        """The fact keys among `keys` already queued."""
        wanted = list(keys)
        if not wanted:
            return set()
        with self._db.engine.connect() as conn:
            rows = conn.execute(sqlalchemy.select(FACTS.c.key).where(FACTS.c.key.in_(wanted)))
            return {r[0] for r in rows}

    def enqueue(self, facts: Sequence[FactRecord], deliveries: Sequence[DeliveryRecord], cursor: dt.datetime) -> None:
        """Queue facts and their deliveries and move the cursor, in one transaction."""
        with self._db.lock, self._db.engine.begin() as conn:
            if facts:
                conn.execute(FACTS.insert(), [column_values(f, FACTS) for f in facts])
            if deliveries:
                conn.execute(DELIVERIES.insert(), [column_values(d, DELIVERIES) for d in deliveries])
            upsert(conn, META, "key", {"key": CURSOR_KEY, "value": cursor.astimezone(dt.UTC).isoformat()})

    def due(
        self, now: dt.datetime, limit: int, skip: Iterable[str] = (), receiver: str | None = None
    ) -> list[tuple[DeliveryRecord, FactRecord]]:
        """Pending deliveries (of `receiver`, else of all) whose next attempt is due, oldest due first."""
        d = DELIVERIES.c
        query = (
            sqlalchemy.select(*_DELIVERY.columns, *_FACT.columns)
            .join(FACTS, FACTS.c.id == d.fact_id)
            .where(d.state == PENDING, d.next_attempt_at <= now, *([d.receiver == receiver] if receiver else []))
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        )
        skipped = list(skip)
        if skipped:
            query = query.where(d.id.notin_(skipped))
        n = len(_DELIVERY.columns)
        with self._db.engine.connect() as conn:
            return [(_DELIVERY.record(row[:n]), _FACT.record(row[n:])) for row in conn.execute(query)]

    def settle(self, delivery: DeliveryRecord) -> None:
        """Record an attempt's outcome: the delivery's new state, attempts, next time and error."""
        values = column_values(delivery, DELIVERIES, leave_out=("id", "fact_id", "receiver", "created_at"))
        with self._db.lock, self._db.engine.begin() as conn:
            conn.execute(DELIVERIES.update().where(DELIVERIES.c.id == delivery.id).values(values))

    def fail_unconfigured(self, receivers: Sequence[str], error: str) -> int:
        """Fail the pending deliveries of receivers no longer configured; how many."""
        d = DELIVERIES.c
        update = DELIVERIES.update().where(d.state == PENDING, d.receiver.notin_(list(receivers)))
        with self._db.lock, self._db.engine.begin() as conn:
            return int(conn.execute(update.values(state=FAILED, last_error=error)).rowcount)

    def listing(self, states: Sequence[str] = (PENDING, FAILED)) -> list[tuple[DeliveryRecord, FactRecord]]:
        """Deliveries in `states` with their facts, oldest first (`ctl get notifications`)."""
        d = DELIVERIES.c
        query = (
            sqlalchemy.select(*_DELIVERY.columns, *_FACT.columns)
            .join(FACTS, FACTS.c.id == d.fact_id)
            .where(d.state.in_(list(states)))
            .order_by(d.created_at, d.id)
        )
        n = len(_DELIVERY.columns)
        with self._db.engine.connect() as conn:
            return [(_DELIVERY.record(row[:n]), _FACT.record(row[n:])) for row in conn.execute(query)]

    def counts(self) -> dict[tuple[str, str], int]:
        """(receiver, state) -> number of deliveries."""
        d = DELIVERIES.c
        query = sqlalchemy.select(d.receiver, d.state, sqlalchemy.func.count()).group_by(d.receiver, d.state)
        with self._db.engine.connect() as conn:
            return {(r[0], r[1]): int(r[2]) for r in conn.execute(query)}

    def prune(self, before: dt.datetime) -> None:
        """Forget settled deliveries queued before `before`, then facts left without a delivery."""
        d = DELIVERIES.c
        with self._db.lock, self._db.engine.begin() as conn:
            conn.execute(DELIVERIES.delete().where(d.state != PENDING, d.created_at < before))
            orphan = ~sqlalchemy.exists().where(d.fact_id == FACTS.c.id)
            conn.execute(FACTS.delete().where(FACTS.c.created_at < before, orphan))
