"""Pods in the Store: one row per pod (one container), written in batches by the controllers.

The live pods and the pods of the owners being planned are served from `PodCache`, in step
with every write here; see `caches` for the locking rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy

from miniorch.store import versions
from miniorch.store.caches import PodCache
from miniorch.store.connect import Db
from miniorch.store.records import PodRecord
from miniorch.store.rows import PODS, RowMapper, column_values

_C = PODS.c


def _update_pod(columns: Iterable[str]) -> sqlalchemy.Update:
    """A pod's UPDATE built once, with parameters (several per pod and pass: building one
    statement per call was a third of the write's cost)."""
    sets: dict[str, Any] = {name: sqlalchemy.bindparam(name) for name in columns if name != "uid"}
    update: sqlalchemy.Update = PODS.update().where(_C.uid == sqlalchemy.bindparam("key_uid")).values(sets)
    return update


_UPDATE_POD = _update_pod(column.name for column in PODS.columns)
_UPDATE_POD_NO_LOG = _update_pod(column.name for column in PODS.columns if column.name != "log_tail")
_INSERT_POD = PODS.insert()
_POD = RowMapper(PODS, PodRecord)
_POD_NO_LOG = RowMapper(PODS, PodRecord, skip={"log_tail"})

#: Labels a controller sets on its pods from the owner's name, over any template label of that
#: key (`reconcile.jobpods`). A selector on one reads that owner's pods through the index
#: ix_pods_owner_kind_owner_name, plus the pods of other kinds (their template may carry the
#: label), instead of reading every pod of the history.
#: Uids per `IN (...)` (SQLite allows 32,766 parameters, PostgreSQL 65,535).
_IN_CHUNK = 5000
OWNER_NAME_LABELS = {"job-name": "Job", "batch.kubernetes.io/job-name": "Job"}


def _narrowed(query: sqlalchemy.Select[Any], labels: Mapping[str, str]) -> sqlalchemy.Select[Any] | None:
    """`query` through the owner index when a label names the owner (a `job-name` selector), else None.
    The caller then filters the namespace and orders in Python: with either in the SQL, SQLite
    chose the namespace index and scanned every pod (180 ms at 100,000 finished pods)."""
    for key, value in labels.items():
        kind = OWNER_NAME_LABELS.get(key)
        if kind is not None:
            # `<` and `>` rather than `!=`: both branches are index ranges (SQLite's OR optimisation).
            owner = (_C.owner_kind == kind) & (_C.owner_name == value)
            return query.where(owner | (_C.owner_kind < kind) | (_C.owner_kind > kind))
    return None


def _labelled(query: sqlalchemy.Select[Any], labels: Mapping[str, str]) -> sqlalchemy.Select[Any]:
    for key, value in labels.items():
        query = query.where(_C.labels[key].as_string() == value)
    return query


def _listed(
    conn: sqlalchemy.Connection, select: sqlalchemy.Select[Any], namespace: str | None, labels: Mapping[str, str]
) -> list[Any]:
    """The rows of `select` (which has the namespace and name columns) of the pods in `namespace` (all
    when None) with `labels`, by namespace and name."""
    query = _labelled(select, labels)
    narrowed = _narrowed(query, labels)
    if narrowed is not None:
        found = [r for r in conn.execute(narrowed).all() if not namespace or r.namespace == namespace]
        return sorted(found, key=lambda r: (r.namespace, r.name))
    if namespace:
        query = query.where(_C.namespace == namespace)
    return list(conn.execute(query.order_by(_C.namespace, _C.name)).all())  # fetched at once, not row by row


class Pods:
    def __init__(self, db: Db, cache: PodCache) -> None:
        self._db, self._cache = db, cache

    def save(self, pods: Iterable[PodRecord]) -> None:
        pods = list(pods)
        with self._db.lock:
            with self._db.engine.begin() as conn:
                first = versions.reserve(conn, len(pods)) if pods else 0
                changes = []
                for rv, pod in enumerate(pods, first):
                    values = column_values(pod, PODS, leave_out=() if pod.log_tail else ("log_tail",))
                    values["resource_version"] = rv
                    update = _UPDATE_POD if pod.log_tail else _UPDATE_POD_NO_LOG
                    # (Core adds any column named in the parameters to the SET clause: no log_tail here.)
                    change = versions.MODIFIED
                    if conn.execute(update, {**values, "key_uid": pod.uid}).rowcount == 0:
                        conn.execute(_INSERT_POD, {"log_tail": "", **values})
                        change = versions.ADDED
                    changes.append(versions.Change(rv, "Pod", pod.namespace, pod.name, pod.uid, change))
                versions.log(conn, changes)
            self._cache.saved(pods)  # committed: the cached copies follow (their resource_version may lag)

    def get(self, namespace: str, name: str) -> PodRecord | None:
        with self._db.engine.connect() as conn:
            return _POD.first(conn, _POD.select().where(_C.namespace == namespace, _C.name == name))

    def by_uid(self, uid: str) -> PodRecord | None:
        with self._db.engine.connect() as conn:
            return _POD.first(conn, _POD.select().where(_C.uid == uid))

    def of(self, owner_uid: str, with_log: bool) -> list[PodRecord]:
        mapper = _POD if with_log else _POD_NO_LOG

        def load() -> list[PodRecord]:
            with self._db.engine.connect() as conn:
                return mapper.all(conn, mapper.select().where(_C.owner_uid == owner_uid).order_by(_C.created_at))

        if with_log:
            return load()
        with self._db.lock:  # planning reads these every pass: kept in memory
            return self._cache.owned(owner_uid, load)

    def forget(self, owner_uid: str) -> None:
        with self._db.lock:
            self._cache.owner_finished(owner_uid)

    def changes(self, owner_uid: str) -> tuple[bool, list[PodRecord]]:
        """`PodCache.changes` (no logs)."""

        def load() -> list[PodRecord]:
            with self._db.engine.connect() as conn:
                query = _POD_NO_LOG.select().where(_C.owner_uid == owner_uid).order_by(_C.created_at)
                return _POD_NO_LOG.all(conn, query)

        with self._db.lock:
            return self._cache.changes(owner_uid, load)

    def all(self, namespace: str | None, labels: Mapping[str, str] | None, with_log: bool) -> list[PodRecord]:
        mapper = _POD if with_log else _POD_NO_LOG
        with self._db.engine.connect() as conn:
            return [mapper.record(row) for row in _listed(conn, mapper.select(), namespace, labels or {})]

    def count(self) -> int:
        with self._db.engine.connect() as conn:
            return int(conn.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(PODS)).scalar() or 0)

    def versions(self, namespace: str | None, labels: Mapping[str, str]) -> list[tuple[str, int, str]]:
        """(uid, resource_version, owner_uid) of the pods `all` lists, in its order, without reading the rest."""
        columns = (_C.uid, _C.resource_version, _C.owner_uid, _C.namespace, _C.name)
        with self._db.engine.connect() as conn:
            return [(r[0], r[1], r[2]) for r in _listed(conn, sqlalchemy.select(*columns), namespace, labels)]

    def by_uids(self, uids: Sequence[str]) -> list[PodRecord]:
        """The pods with these uids, without their log tails, in no order."""
        out: list[PodRecord] = []
        with self._db.engine.connect() as conn:
            for start in range(0, len(uids), _IN_CHUNK):
                chunk = list(uids[start : start + _IN_CHUNK])
                out.extend(_POD_NO_LOG.all(conn, _POD_NO_LOG.select().where(_C.uid.in_(chunk))))
        return out

    def live(self) -> list[PodRecord]:
        def load() -> list[PodRecord]:
            with self._db.engine.connect() as conn:
                return _POD.all(conn, _POD.select().where(_C.container_removed.is_(False)))

        with self._db.lock:  # every pass reads these: kept in memory
            return self._cache.live(load)

    def delete(self, uids: Sequence[str]) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                gone = conn.execute(
                    PODS.delete().where(_C.uid.in_(list(uids))).returning(_C.uid, _C.namespace, _C.name)
                )
                versions.log_deleted(conn, "Pod", gone.all())
            self._cache.deleted(uids)
