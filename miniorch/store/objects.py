"""Workload objects in the Store: applied manifests, the status controllers compute, ownership.

The reconcile set (objects not finished, or being deleted) is served from `ObjectCache`,
in step with every write here; see `caches` for the locking rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy

from miniorch.store import secretbox, versions
from miniorch.store.caches import ObjectCache, PodCache
from miniorch.store.connect import Db
from miniorch.store.records import ObjectRecord, ObjectRef
from miniorch.store.rows import EVENTS, OBJECTS, PODS, RowMapper, column_values, upsert

_C = OBJECTS.c
_OBJECT = RowMapper(OBJECTS, ObjectRecord)
_SAVE_STATUS = (
    OBJECTS.update()
    .where(_C.uid == sqlalchemy.bindparam("key_uid"))
    .values(
        status=sqlalchemy.bindparam("status"),
        finished=sqlalchemy.bindparam("finished"),
        resource_version=sqlalchemy.bindparam("rv"),
    )
    .returning(_C.kind, _C.namespace, _C.name)
)
_IN_CHUNK = 5000  # values in one IN (...): within every backend's limit on bound parameters
_REF_COLUMNS = (_C.uid, _C.kind, _C.namespace, _C.name, _C.source, _C.deleting)


def _row(obj: ObjectRecord) -> dict[str, Any]:
    """An object's columns; a saved or added object is not finished until a status says so."""
    return {**column_values(obj, OBJECTS), "finished": False}


def _versioned(conn: sqlalchemy.Connection, obj: ObjectRecord, type_: str, row: dict[str, Any]) -> dict[str, Any]:
    """`row` (the object's row as stored: a Secret's data sealed) at a new resourceVersion, its change
    logged (in the writer's transaction)."""
    rv = versions.record(conn, obj.kind, obj.namespace, obj.name, obj.uid, type_)
    return {**row, "resource_version": rv}


def _log_update(conn: sqlalchemy.Connection, uid: str, rv: int, found: Any, type_: str = versions.MODIFIED) -> None:
    """Log the change of an UPDATE/DELETE ... RETURNING kind, namespace, name (nothing when no row matched)."""
    if found is not None:
        versions.log(conn, [versions.Change(rv, found.kind, found.namespace, found.name, uid, type_)])


class Objects:
    def __init__(self, db: Db, cache: ObjectCache, pods: PodCache) -> None:
        self._db, self._cache, self._pods = db, cache, pods
        # Secret manifests are sealed on the way in and opened on the way out (DESIGN 9); the
        # reconcile cache keeps them sealed. `Store.use_secrets` sets the daemon's key.
        self.box: secretbox.SecretBox | secretbox.Locked = secretbox.Locked()

    def _sealed(self, obj: ObjectRecord) -> dict[str, Any]:
        row = _row(obj)
        row["manifest"] = self.box.seal(obj.manifest)
        return row

    def _opened(self, records: list[ObjectRecord]) -> list[ObjectRecord]:
        return [
            dataclasses.replace(r, manifest=self.box.open(r.manifest)) if r.kind == "Secret" else r for r in records
        ]

    # -- writes -------------------------------------------------------------
    def add(self, obj: ObjectRecord) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                conn.execute(OBJECTS.insert().values(_versioned(conn, obj, versions.ADDED, self._sealed(obj))))
            self._written(obj.uid)

    def save(self, obj: ObjectRecord) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                upsert(conn, OBJECTS, "uid", _versioned(conn, obj, versions.MODIFIED, self._sealed(obj)))
            self._written(obj.uid)

    def save_status(self, uid: str, status: dict[str, Any], finished: bool) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                rv = versions.reserve(conn, 1)
                found = conn.execute(
                    _SAVE_STATUS, {"key_uid": uid, "status": status, "finished": finished, "rv": rv}
                ).first()
                _log_update(conn, uid, rv, found)
            if finished:
                self._pods.owner_finished(uid)
            if not self._cache.status_saved(uid, status, finished):
                self._written(uid)

    def save_manifest(self, uid: str, manifest: dict[str, Any], generation: int, source: str) -> None:
        self._update(uid, manifest=self.box.seal(manifest), generation=generation, source=source)

    def mark_deleting(self, uid: str) -> None:
        self._update(uid, deleting=True)

    def _update(self, uid: str, **values: Any) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                rv = versions.reserve(conn, 1)
                update = OBJECTS.update().where(_C.uid == uid).values({**values, "resource_version": rv})
                _log_update(conn, uid, rv, conn.execute(update.returning(_C.kind, _C.namespace, _C.name)).first())
            self._written(uid)

    def add_if_absent(self, obj: ObjectRecord) -> bool:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                key = (_C.kind == obj.kind) & (_C.namespace == obj.namespace) & (_C.name == obj.name)
                if conn.execute(sqlalchemy.select(_C.uid).where(key).limit(1)).first() is not None:
                    return False
                conn.execute(OBJECTS.insert().values(_versioned(conn, obj, versions.ADDED, self._sealed(obj))))
            self._written(obj.uid)
            return True

    def add_all_if_absent(self, objs: Sequence[ObjectRecord]) -> set[str]:
        """`add_if_absent` of many in one transaction (a cron herd's Jobs of one minute); the uids added."""
        if not objs:
            return set()
        added: list[ObjectRecord] = []
        with self._db.lock:
            with self._db.engine.begin() as conn:
                names = sorted({o.name for o in objs})
                taken: set[tuple[str, str, str]] = set()
                for start in range(0, len(names), _IN_CHUNK):
                    query = sqlalchemy.select(_C.kind, _C.namespace, _C.name).where(
                        _C.name.in_(names[start : start + _IN_CHUNK])
                    )
                    taken.update((r[0], r[1], r[2]) for r in conn.execute(query))
                for o in objs:
                    if (o.kind, o.namespace, o.name) not in taken:
                        taken.add((o.kind, o.namespace, o.name))
                        added.append(o)
                if added:
                    first = versions.reserve(conn, len(added))
                    conn.execute(
                        OBJECTS.insert(),
                        [{**self._sealed(o), "resource_version": first + i} for i, o in enumerate(added)],
                    )
                    versions.log(
                        conn,
                        [
                            versions.Change(first + i, o.kind, o.namespace, o.name, o.uid, versions.ADDED)
                            for i, o in enumerate(added)
                        ],
                    )
            self._written_all([o.uid for o in added])
        return {o.uid for o in added}

    def save_statuses(self, statuses: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """`save_status` (not finished) of many objects in one transaction."""
        if not statuses:
            return
        with self._db.lock:
            with self._db.engine.begin() as conn:
                first = versions.reserve(conn, len(statuses))
                changes = []
                for i, (uid, status) in enumerate(statuses):
                    found = conn.execute(
                        _SAVE_STATUS, {"key_uid": uid, "status": status, "finished": False, "rv": first + i}
                    ).first()
                    if found is not None:
                        changes.append(
                            versions.Change(first + i, found.kind, found.namespace, found.name, uid, versions.MODIFIED)
                        )
                versions.log(conn, changes)
            self._written_all([uid for uid, status in statuses if not self._cache.status_saved(uid, status, False)])

    def delete(self, uid: str) -> None:
        with self._db.lock:
            with self._db.engine.begin() as conn:
                pods = conn.execute(
                    PODS.delete().where(PODS.c.owner_uid == uid).returning(PODS.c.uid, PODS.c.namespace, PODS.c.name)
                ).all()
                conn.execute(EVENTS.delete().where(EVENTS.c.uid == uid))
                gone = conn.execute(OBJECTS.delete().where(_C.uid == uid).returning(_C.kind, _C.namespace, _C.name))
                versions.log_deleted(conn, "Pod", pods)
                _log_update(conn, uid, versions.reserve(conn, 1), gone.first(), versions.DELETED)
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

    def _written_all(self, uids: Sequence[str]) -> None:
        """`_written` of many, read back in one query."""
        if not self._cache.loaded or not uids:
            return
        rows: dict[str, Any] = {}
        with self._db.engine.connect() as conn:
            for start in range(0, len(uids), _IN_CHUNK):
                query = sqlalchemy.select(*_OBJECT.columns, _C.finished).where(
                    _C.uid.in_(uids[start : start + _IN_CHUNK])
                )
                rows.update((row.uid, row) for row in conn.execute(query))
        for uid in uids:
            row = rows.get(uid)
            self._cache.written(uid, _OBJECT.record(row[:-1]) if row is not None else None, bool(row and row.finished))

    # -- reads --------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> ObjectRecord | None:
        return self._first((_C.kind == kind) & (_C.namespace == namespace) & (_C.name == name))

    def by_uid(self, uid: str) -> ObjectRecord | None:
        return self._first(_C.uid == uid)

    def _first(self, where: sqlalchemy.ColumnElement[bool]) -> ObjectRecord | None:
        with self._db.engine.connect() as conn:
            found = _OBJECT.first(conn, _OBJECT.select().where(where))
        return self._opened([found])[0] if found is not None else None

    def by_uids(self, uids: Iterable[str]) -> dict[str, ObjectRecord]:
        wanted = list(set(uids))
        if not wanted:
            return {}
        with self._db.engine.connect() as conn:
            found = _OBJECT.all(conn, _OBJECT.select().where(_C.uid.in_(wanted)))
        return {o.uid: o for o in self._opened(found)}

    def versions(self, kind: str, namespace: str | None) -> list[tuple[str, int]]:
        """(uid, resource_version) of what `all` lists, in its order, without reading the rest."""
        query = sqlalchemy.select(_C.uid, _C.resource_version).where(_C.kind == kind)
        if namespace:
            query = query.where(_C.namespace == namespace)
        with self._db.engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(query.order_by(_C.namespace, _C.name)).all()]

    def count(self, kind: str) -> int:
        with self._db.engine.connect() as conn:
            query = sqlalchemy.select(sqlalchemy.func.count()).select_from(OBJECTS).where(_C.kind == kind)
            return int(conn.execute(query).scalar() or 0)

    def versions_of(self, uids: Iterable[str]) -> dict[str, int]:
        """resource_version by uid of the objects with these uids (gone ones left out)."""
        wanted, out = list(set(uids)), dict[str, int]()
        with self._db.engine.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                query = sqlalchemy.select(_C.uid, _C.resource_version).where(
                    _C.uid.in_(wanted[start : start + _IN_CHUNK])
                )
                out.update((r[0], r[1]) for r in conn.execute(query))
        return out

    def all(self, kind: str | None = None, namespace: str | None = None) -> list[ObjectRecord]:
        query = _OBJECT.matching({"kind": kind, "namespace": namespace})
        with self._db.engine.connect() as conn:
            found = _OBJECT.all(conn, query.order_by(_C.namespace, _C.name))
        return self._opened(found)

    def newest(
        self, kind: str, namespace: str | None, owner_uid: str | None, offset: int, limit: int
    ) -> tuple[int, list[ObjectRecord]]:
        """How many objects match, and `limit` of them from `offset`, newest first: a page read in
        SQL, so only its rows' manifests are decoded (the dashboard's lists with 1,000s of Jobs)."""
        where = [_C.kind == kind]
        where += [_C.namespace == namespace] if namespace else []
        where += [_C.owner_uid == owner_uid] if owner_uid else []
        query = _OBJECT.select().where(*where).order_by(_C.created_at.desc(), _C.name.desc())
        with self._db.engine.connect() as conn:
            total = conn.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(OBJECTS).where(*where))
            return int(total.scalar_one()), _OBJECT.all(conn, query.offset(offset).limit(limit))

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

    def owned_versions(self, owner_kind: str) -> list[tuple[str, int, str]]:
        query = sqlalchemy.select(_C.uid, _C.resource_version, _C.owner_uid).where(_C.owner_kind == owner_kind)
        with self._db.engine.connect() as conn:
            return [(r[0], r[1], r[2] or "") for r in conn.execute(query.order_by(_C.created_at)).all()]

    def owned(self, owner_kind: str, owner_uids: Iterable[str] | None = None) -> list[ObjectRecord]:
        query = _OBJECT.select().where(_C.owner_kind == owner_kind)
        if owner_uids is not None:
            query = query.where(_C.owner_uid.in_(list(owner_uids)))
        with self._db.engine.connect() as conn:
            return _OBJECT.all(conn, query.order_by(_C.created_at))
