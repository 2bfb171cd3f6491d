"""Workload objects in the Store: applied manifests, the status controllers compute, ownership.

The reconcile set (objects not finished, or being deleted) is served from `ObjectCache`,
in step with every write here; see `caches` for the locking rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy

from miniorch.store.caches import ObjectCache, PodCache
from miniorch.store.connect import Db
from miniorch.store.records import ObjectRecord, ObjectRef
from miniorch.store.rows import EVENTS, OBJECTS, PODS, RowMapper, column_values, upsert

_C = OBJECTS.c
_OBJECT = RowMapper(OBJECTS, ObjectRecord)
_SAVE_STATUS = (
    OBJECTS.update()
    .where(_C.uid == sqlalchemy.bindparam("key_uid"))
    .values(status=sqlalchemy.bindparam("status"), finished=sqlalchemy.bindparam("finished"))
)
_REF_COLUMNS = (_C.uid, _C.kind, _C.namespace, _C.name, _C.source, _C.deleting)


def _row(obj: ObjectRecord) -> dict[str, Any]:
    """An object's columns; a saved or added object is not finished until a status says so."""
    return {**column_values(obj, OBJECTS), "finished": False}


class Objects:
    def __init__(self, db: Db, cache: ObjectCache, pods: PodCache) -> None:
        self._db, self._cache, self._pods = db, cache, pods

    # -- writes -------------------------------------------------------------
    def add(self, obj: ObjectRecord) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                conn.execute(OBJECTS.insert().values(_row(obj)))
            self._written(obj.uid)

    def save(self, obj: ObjectRecord) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                upsert(conn, OBJECTS, "uid", _row(obj))
            self._written(obj.uid)

    def save_status(self, uid: str, status: dict[str, Any], finished: bool) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                conn.execute(_SAVE_STATUS, {"key_uid": uid, "status": status, "finished": finished})
            if finished:
                self._pods.owner_finished(uid)
            if not self._cache.status_saved(uid, status, finished):
                self._written(uid)

    def save_manifest(self, uid: str, manifest: dict[str, Any], generation: int, source: str) -> None:
        self._update(uid, manifest=manifest, generation=generation, source=source)

    def mark_deleting(self, uid: str) -> None:
        self._update(uid, deleting=True)

    def _update(self, uid: str, **values: Any) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                conn.execute(OBJECTS.update().where(_C.uid == uid).values(values))
            self._written(uid)

    def add_if_absent(self, obj: ObjectRecord) -> bool:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                key = (_C.kind == obj.kind) & (_C.namespace == obj.namespace) & (_C.name == obj.name)
                if conn.execute(sqlalchemy.select(_C.uid).where(key).limit(1)).first() is not None:
                    return False
                conn.execute(OBJECTS.insert().values(_row(obj)))
            self._written(obj.uid)
            return True

    def delete(self, uid: str) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                conn.execute(PODS.delete().where(PODS.c.owner_uid == uid))
                conn.execute(EVENTS.delete().where(EVENTS.c.uid == uid))
                conn.execute(OBJECTS.delete().where(_C.uid == uid))
            self._pods.owner_deleted(uid)
            self._cache.deleted(uid)

    def _written(self, uid: str) -> None:
        """Bring the reconcile set in step with a committed write (under the lock)."""
        if not self._cache.loaded:
            return
        with self._db.engine.connect() as conn:
            row = conn.execute(sqlalchemy.select(*_OBJECT.columns, _C.finished).where(_C.uid == uid)).first()
        record = _OBJECT.record(row[:-1]) if row is not None else None
        self._cache.written(uid, record, bool(row.finished) if row is not None else False)

    # -- reads --------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> ObjectRecord | None:
        return self._first((_C.kind == kind) & (_C.namespace == namespace) & (_C.name == name))

    def by_uid(self, uid: str) -> ObjectRecord | None:
        return self._first(_C.uid == uid)

    def _first(self, where: sqlalchemy.ColumnElement[bool]) -> ObjectRecord | None:
        with self._db.engine.connect() as conn:
            return _OBJECT.first(conn, _OBJECT.select().where(where))

    def by_uids(self, uids: Iterable[str]) -> dict[str, ObjectRecord]:
        wanted = list(set(uids))
        if not wanted:
            return {}
        with self._db.engine.connect() as conn:
            return {o.uid: o for o in _OBJECT.all(conn, _OBJECT.select().where(_C.uid.in_(wanted)))}

    def all(self, kind: str | None = None, namespace: str | None = None) -> list[ObjectRecord]:
        query = _OBJECT.matching({"kind": kind, "namespace": namespace})
        with self._db.engine.connect() as conn:
            return _OBJECT.all(conn, query.order_by(_C.namespace, _C.name))

    def file_refs(self) -> list[ObjectRef]:
        query = sqlalchemy.select(*_REF_COLUMNS).where(_C.source.startswith("file:")).order_by(_C.source, _C.name)
        with self._db.engine.connect() as conn:
            return [ObjectRef(*row) for row in conn.execute(query)]

    def index(self) -> list[tuple[str, str, int, bool]]:
        query = sqlalchemy.select(_C.uid, _C.kind, _C.generation, _C.finished)
        with self._db.engine.connect() as conn:
            return [(uid, kind, generation, bool(finished)) for uid, kind, generation, finished in conn.execute(query)]

    def to_reconcile(self, kinds: Sequence[str], also: set[str]) -> list[ObjectRecord]:
        with self._db.lock:
            cached = self._cache.all(self._load_reconcile_set)
            found = [o for o in cached.values() if o.kind in kinds]
            missing = [uid for uid in also if uid not in cached]
        if missing:
            with self._db.engine.connect() as conn:
                query = _OBJECT.select().where(_C.kind.in_(list(kinds)), _C.uid.in_(missing))
                found += _OBJECT.all(conn, query)
        return sorted(found, key=lambda o: (o.namespace, o.name))

    def _load_reconcile_set(self) -> list[ObjectRecord]:
        with self._db.engine.connect() as conn:
            return _OBJECT.all(conn, _OBJECT.select().where(_C.finished.is_(False) | _C.deleting.is_(True)))

    def owned(self, owner_kind: str, owner_uids: Iterable[str] | None = None) -> list[ObjectRecord]:
        query = _OBJECT.select().where(_C.owner_kind == owner_kind)
        if owner_uids is not None:
            query = query.where(_C.owner_uid.in_(list(owner_uids)))
        with self._db.engine.connect() as conn:
            return _OBJECT.all(conn, query.order_by(_C.created_at))
