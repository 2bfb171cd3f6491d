"""Table rows as typed records through SQLAlchemy Core: the Store's one way to the database.

No ORM instances: a planning pass or a `ctl get pods` reads thousands of pods, and building
(then discarding) an identity-mapped ORM object per row was most of their cost. The mapping
is read off the record's dataclass fields and the table's column types (enums, UTC times):
no record is special-cased.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, DateTime, Select, Table, select
from sqlalchemy.engine import Connection

from miniorch.store import tables

R = TypeVar("R")

PODS: Table = tables.PodRow.__table__  # type: ignore[attr-defined]
OBJECTS: Table = tables.ObjectRow.__table__  # type: ignore[attr-defined]
EVENTS: Table = tables.EventRow.__table__  # type: ignore[attr-defined]
REVISIONS: Table = tables.RevisionRow.__table__  # type: ignore[attr-defined]
NODES: Table = tables.NodeRow.__table__  # type: ignore[attr-defined]
META: Table = tables.MetaRow.__table__  # type: ignore[attr-defined]
CHANGES: Table = tables.ChangeRow.__table__  # type: ignore[attr-defined]
VERSIONS: Table = tables.VersionRow.__table__  # type: ignore[attr-defined]


def _enum_fields(record_type: type[Any]) -> dict[str, Callable[[Any], Any]]:
    """Fields typed as an enum (a StrEnum column holds its value): the enum decodes them."""
    hints = typing.get_type_hints(record_type)
    return {n: t for n, t in hints.items() if isinstance(t, type) and issubclass(t, enum.Enum)}


class RowMapper(Generic[R]):
    """Reads rows of `table` as `record_type` values; fields in `skip` keep their defaults."""

    def __init__(self, table: Table, record_type: type[R], skip: Iterable[str] = ()) -> None:
        left_out = set(skip)
        self.names = [f.name for f in dataclasses.fields(record_type) if f.name not in left_out]  # type: ignore[arg-type]
        self.columns: list[Column[Any]] = [table.c[n] for n in self.names]
        self._dates = [n for n in self.names if isinstance(table.c[n].type, DateTime)]
        self._enums = [(n, decode) for n, decode in _enum_fields(record_type).items() if n in self.names]
        self._type = record_type
        self._table = table

    def select(self) -> Select[Any]:
        return select(*self.columns)

    def matching(self, equal: Mapping[str, object]) -> Select[Any]:
        """Rows whose columns equal the given values; an empty value (None, "") filters nothing."""
        return self.select().where(*(self._table.c[name] == value for name, value in equal.items() if value))

    def record(self, row: Sequence[Any]) -> R:
        values = dict(zip(self.names, row, strict=True))
        for name in self._dates:
            value = values[name]
            if value is not None and value.tzinfo is None:  # SQLite keeps no zone; we store UTC
                values[name] = value.replace(tzinfo=dt.UTC)
        for name, decode in self._enums:
            values[name] = decode(values[name])
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
            out[f.name] = value.value if isinstance(value, enum.Enum) else value
    return out


def upsert(conn: Connection, table: Table, key: str, values: dict[str, Any]) -> None:
    """Update the row whose `key` column equals `values[key]`, or insert it (callers hold the write lock)."""
    update = table.update().where(table.c[key] == values[key]).values(values)
    if conn.execute(update).rowcount == 0:
        conn.execute(table.insert().values(values))
