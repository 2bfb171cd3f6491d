"""resourceVersion: one store-wide counter bumped by every write of an object, pod, event or node row,
and a bounded log of those writes, which the Kubernetes API's watch streams from (DESIGN 11).

Writers `reserve` versions inside their own transaction while holding `Db.lock`; the counter's row
lock orders writers of other processes too, so versions commit in increasing order. The log keeps
the newest `LOG_SIZE` changes; a watch from an older version is told it is `Gone`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy.engine import Connection

from miniorch.errors import MiniorchError
from miniorch.store.connect import Db
from miniorch.store.rows import CHANGES, VERSIONS

LOG_SIZE = 20_000  # changes kept for watches (a few minutes of a busy fleet)
_PRUNE_EVERY = 500  # versions between two trims of the log
_V = VERSIONS.c
# Built once: a statement made per call (its expression, then its cache key) cost more than the
# UPDATE itself, and every write of a pod, object or event takes versions.
_RESERVE = (
    VERSIONS.update()
    .where(_V.id == 1)
    .values(current=_V.current + sqlalchemy.bindparam("count", type_=sqlalchemy.BigInteger))
    .returning(_V.current, _V.compacted)
)
_LOG = CHANGES.insert()

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


class Gone(MiniorchError):
    """The version asked for is older than the change log keeps (HTTP 410)."""


@dataclass(frozen=True)
class Change:
    """A write as the log keeps it: which row (kind, namespace, name, uid), how, at which version."""

    rv: int
    kind: str
    namespace: str
    name: str
    uid: str
    type: str  # ADDED | MODIFIED | DELETED


def reserve(conn: Connection, count: int) -> int:
    """Take `count` new versions in this transaction; returns the first (they follow one another)."""
    row = conn.execute(_RESERVE, {"count": count}).first()
    if row is None:  # a database made without the migration's row (never in practice): start it
        conn.execute(VERSIONS.insert().values(id=1, current=count, compacted=0))
        return 1
    last = int(row.current)
    first = last - count + 1
    if (first - 1) // _PRUNE_EVERY != last // _PRUNE_EVERY and last > LOG_SIZE:
        conn.execute(CHANGES.delete().where(CHANGES.c.rv <= last - LOG_SIZE))
        conn.execute(VERSIONS.update().where(_V.id == 1).values(compacted=last - LOG_SIZE))
    return first


def log(conn: Connection, changes: Iterable[Change]) -> None:
    """Add changes to the log, in the writer's transaction."""
    rows = [vars(c) for c in changes]
    if rows:
        conn.execute(_LOG, rows)


def record(conn: Connection, kind: str, namespace: str, name: str, uid: str, type_: str) -> int:
    """One change: reserve its version and log it; returns the version."""
    rv = reserve(conn, 1)
    log(conn, [Change(rv, kind, namespace, name, uid, type_)])
    return rv


def log_deleted(conn: Connection, kind: str, rows: Sequence[Any]) -> None:
    """Log the deletion of rows of `kind` (rows of uid, namespace, name from a DELETE ... RETURNING)."""
    if rows:
        first = reserve(conn, len(rows))
        log(conn, (Change(first + i, kind, r.namespace, r.name, r.uid, DELETED) for i, r in enumerate(rows)))


class Versions:
    def __init__(self, db: Db) -> None:
        self._db = db

    def current(self) -> int:
        """The newest version handed out: a list read after this call is at least this new."""
        with self._db.engine.connect() as conn:
            value = conn.execute(sqlalchemy.select(_V.current).where(_V.id == 1)).scalar()
        return int(value or 0)

    def since(self, rv: int, kinds: Sequence[str], limit: int = 5000) -> list[Change]:
        """The changes of `kinds` after version `rv`, oldest first; Gone when the log no longer reaches `rv`."""
        with self._db.engine.connect() as conn:
            compacted = conn.execute(sqlalchemy.select(_V.compacted).where(_V.id == 1)).scalar() or 0
            if rv < compacted:
                raise Gone(f"too old resource version: {rv} ({compacted})")
            query = (
                sqlalchemy.select(*CHANGES.c)
                .where(CHANGES.c.rv > rv, CHANGES.c.kind.in_(list(kinds)))
                .order_by(CHANGES.c.rv)
                .limit(limit)
            )
            return [Change(*row) for row in conn.execute(query)]
