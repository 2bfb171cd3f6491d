"""Table rows as frozen records through SQLAlchemy Core, for the Store's hot paths.

No ORM instances: a planning pass or a `ctl get pods` reads thousands of pods, and
building (then discarding) an identity-mapped ORM object per row was most of their cost.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, DateTime, Select, Table, select
from sqlalchemy.engine import Connection

from miniorch.store.records import PodPhase, PodRecord

R = TypeVar("R")


class RowMapper(Generic[R]):
    """Reads rows of `table` as `record_type` values; fields in `skip` keep their defaults."""

    def __init__(self, table: Table, record_type: type[R], skip: Iterable[str] = ()) -> None:
        left_out = set(skip)
        self.names = [f.name for f in dataclasses.fields(record_type) if f.name not in left_out]  # type: ignore[arg-type]
        self.columns: list[Column[Any]] = [table.c[n] for n in self.names]
        self._dates = {n for n in self.names if isinstance(table.c[n].type, DateTime)}
        self._type = record_type
        self._phase = record_type is PodRecord and "phase" in self.names

    def select(self) -> Select[Any]:
        return select(*self.columns)

    def record(self, row: Sequence[Any]) -> R:
        values = dict(zip(self.names, row, strict=True))
        for name in self._dates:
            value = values[name]
            if value is not None and value.tzinfo is None:  # SQLite keeps no zone; we store UTC
                values[name] = value.replace(tzinfo=dt.UTC)
        if self._phase:
            values["phase"] = PodPhase(values["phase"])
        return self._type(**values)

    def all(self, conn: Connection, query: Select[Any]) -> list[R]:
        return [self.record(row) for row in conn.execute(query)]

    def first(self, conn: Connection, query: Select[Any]) -> R | None:
        row = conn.execute(query.limit(1)).first()
        return self.record(row) if row is not None else None


def column_values(record: Any, table: Table, leave_out: Iterable[str] = ()) -> dict[str, Any]:
    """A record's fields that are columns of `table`, as Core `values()` (enums as their value)."""
    left_out = set(leave_out)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        if f.name in table.c and f.name not in left_out:
            value = getattr(record, f.name)
            out[f.name] = value.value if isinstance(value, PodPhase) else value
    return out
