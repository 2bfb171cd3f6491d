"""The Store: intent-named reads and writes of miniorch's state in SQL.

SQLite (WAL) by default, PostgreSQL by URL. Every write commits before it
returns, so a result recorded here survives a crash of the daemon.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import load_only
from sqlmodel import Session, SQLModel, col, create_engine, delete, select

from miniorch.store import lease, schema, tables
from miniorch.store.errors import StoreUnavailable
from miniorch.store.podcache import PodCache
from miniorch.store.records import (
    EventRecord,
    NodeOverrides,
    ObjectRecord,
    ObjectRef,
    PodRecord,
    RevisionRecord,
)
from miniorch.store.rows import RowMapper, column_values

_PODS = tables.PodRow.__table__  # type: ignore[attr-defined]
_OBJECTS = tables.ObjectRow.__table__  # type: ignore[attr-defined]
_EVENTS = tables.EventRow.__table__  # type: ignore[attr-defined]
_REVISIONS = tables.RevisionRow.__table__  # type: ignore[attr-defined]


def _update_pod(columns: Iterable[str]) -> sqlalchemy.Update:
    """A pod's UPDATE built once, with parameters (several per pod and pass: building one
    statement per call was a third of the write's cost)."""
    sets: dict[str, Any] = {name: sqlalchemy.bindparam(name) for name in columns if name != "uid"}
    update: sqlalchemy.Update = _PODS.update().where(_PODS.c.uid == sqlalchemy.bindparam("key_uid")).values(sets)
    return update


_SAVE_STATUS = (
    _OBJECTS.update()
    .where(_OBJECTS.c.uid == sqlalchemy.bindparam("key_uid"))
    .values(status=sqlalchemy.bindparam("status"), finished=sqlalchemy.bindparam("finished"))
)
_BUMP_EVENT = (
    _EVENTS.update()
    .where(
        (_EVENTS.c.uid == sqlalchemy.bindparam("key_uid"))
        & (_EVENTS.c.reason == sqlalchemy.bindparam("key_reason"))
        & (_EVENTS.c.message == sqlalchemy.bindparam("key_message"))
    )
    .values(
        count=_EVENTS.c.count + 1,
        last_timestamp=sqlalchemy.bindparam("last_timestamp"),
        message=sqlalchemy.bindparam("new_message"),
    )
)
_UPDATE_POD = _update_pod(column.name for column in _PODS.columns)
_UPDATE_POD_NO_LOG = _update_pod(column.name for column in _PODS.columns if column.name != "log_tail")
_INSERT_POD = _PODS.insert()
_POD = RowMapper(_PODS, PodRecord)
_POD_NO_LOG = RowMapper(_PODS, PodRecord, skip={"log_tail"})
_OBJECT = RowMapper(_OBJECTS, ObjectRecord)
_EVENT = RowMapper(_EVENTS, EventRecord)
_REVISION = RowMapper(_REVISIONS, RevisionRecord)


def _fields(record: Any, row_type: type[SQLModel]) -> dict[str, Any]:
    data = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    return {k: v for k, v in data.items() if k in row_type.model_fields}


class Store:
    """All persistent state; safe to call from several threads."""

    def __init__(self, url: str, password: str | None = None) -> None:
        """`password` (from `database_password_file`) goes to the driver only: never into a URL or a message."""
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": 30} if url.startswith("sqlite") else {}
        if password is not None and not url.startswith("sqlite"):
            connect_args["password"] = password
        if not url.startswith("sqlite"):
            connect_args.setdefault("connect_timeout", 10)
        self._engine: Engine = create_engine(engine_url(url), connect_args=connect_args)
        if url.startswith("sqlite"):
            event.listen(self._engine, "connect", _sqlite_pragmas)
        self._write_lock = threading.Lock()
        self._pods = PodCache()
        self._active: dict[str, ObjectRecord] | None = None  # see objects_to_reconcile
        self._overrides: dict[str, NodeOverrides] | None = None
        try:
            self.schema = schema.upgrade(self._engine)
        except BaseException:
            self._engine.dispose()
            raise
        # From here on a database that stops answering is one error type the controllers handle
        # (retry the pass, defer the operation); opening it was classified by `database.open_store`.
        event.listen(self._engine, "handle_error", _unavailable)

    def close(self) -> None:
        self._engine.dispose()

    @property
    def leases(self) -> lease.Leases:
        """The leader lease of daemons sharing this database (DESIGN 8)."""
        return lease.Leases(self._engine)

    def forget_cached(self) -> None:
        """Drop the in-memory copies: another daemon may have written since (a new leader starts clean)."""
        with self._write_lock:
            self._pods = PodCache()
            self._active = None
            self._overrides = None

    # -- objects ----------------------------------------------------------
    def add_object(self, obj: ObjectRecord) -> None:
        with self._write_lock:
            with Session(self._engine) as s:
                s.add(tables.ObjectRow(**_fields(obj, tables.ObjectRow)))
                s.commit()
            self._object_written(obj.uid)

    def save_object(self, obj: ObjectRecord) -> None:
        """Replace an object's manifest, status and flags."""
        with self._write_lock:
            with Session(self._engine) as s:
                s.merge(tables.ObjectRow(**_fields(obj, tables.ObjectRow)))
                s.commit()
            self._object_written(obj.uid)

    def save_status(self, uid: str, status: dict[str, Any], finished: bool = False) -> None:
        """Set an object's status; `finished` objects are left out of `objects_to_reconcile`."""
        with self._write_lock:
            with self._engine.begin() as conn:
                conn.execute(_SAVE_STATUS, {"key_uid": uid, "status": status, "finished": finished})
            if finished:
                self._pods.owner_finished(uid)
            if self._active is None:
                return
            cached = self._active.get(uid)
            if cached is None:
                self._object_written(uid)  # e.g. a finished Job given a status again
            elif finished and not cached.deleting:
                del self._active[uid]  # done: no more passes for it
            else:  # the common case, once per pass with news: no read back
                self._active[uid] = dataclasses.replace(cached, status=status)

    def save_manifest(self, uid: str, manifest: dict[str, Any], generation: int, source: str) -> None:
        """A new spec from apply or patch; status is the controllers' and stays."""
        with self._write_lock:
            with Session(self._engine) as s:
                row = s.get(tables.ObjectRow, uid)
                if row is not None:
                    row.manifest, row.generation, row.source = manifest, generation, source
                    s.add(row)
                    s.commit()
            self._object_written(uid)

    def mark_deleting(self, uid: str) -> None:
        with self._write_lock:
            with Session(self._engine) as s:
                row = s.get(tables.ObjectRow, uid)
                if row is not None:
                    row.deleting = True
                    s.add(row)
                    s.commit()
            self._object_written(uid)

    def _object_written(self, uid: str) -> None:
        """Bring the in-memory objects to reconcile in step with a committed write (under the lock)."""
        if self._active is None:
            return
        c = _OBJECTS.c
        with self._engine.connect() as conn:
            row = conn.execute(sqlalchemy.select(*_OBJECT.columns, c.finished).where(c.uid == uid)).first()
        if row is not None and (not row.finished or row.deleting):
            self._active[uid] = _OBJECT.record(row[:-1])
        else:
            self._active.pop(uid, None)

    def get_object(self, kind: str, namespace: str, name: str) -> ObjectRecord | None:
        c = _OBJECTS.c
        with self._engine.connect() as conn:
            return _OBJECT.first(conn, _OBJECT.select().where(c.kind == kind, c.namespace == namespace, c.name == name))

    def objects_by_uid(self, uids: Iterable[str]) -> dict[str, ObjectRecord]:
        """The objects with these uids (the owners of a page of pods), by uid."""
        wanted = list(set(uids))
        if not wanted:
            return {}
        with self._engine.connect() as conn:
            return {o.uid: o for o in _OBJECT.all(conn, _OBJECT.select().where(_OBJECTS.c.uid.in_(wanted)))}

    def get_object_by_uid(self, uid: str) -> ObjectRecord | None:
        with self._engine.connect() as conn:
            return _OBJECT.first(conn, _OBJECT.select().where(_OBJECTS.c.uid == uid))

    def list_objects(self, kind: str | None = None, namespace: str | None = None) -> list[ObjectRecord]:
        c = _OBJECTS.c
        query = _OBJECT.select()
        if kind:
            query = query.where(c.kind == kind)
        if namespace:
            query = query.where(c.namespace == namespace)
        with self._engine.connect() as conn:
            return _OBJECT.all(conn, query.order_by(c.namespace, c.name))

    def file_object_refs(self) -> list[ObjectRef]:
        """Objects whose source is a manifest file (`file:<path>`), deleting ones included; no manifests read."""
        with Session(self._engine) as s:
            T = tables.ObjectRow
            columns = load_only(*(getattr(T, c) for c in ("uid", "kind", "namespace", "name", "source", "deleting")))
            query = select(T).options(columns).where(col(T.source).startswith("file:"))
            rows = s.exec(query.order_by(T.source, T.name)).all()
            return [ObjectRef(r.uid, r.kind, r.namespace, r.name, r.source, r.deleting) for r in rows]

    def objects_to_reconcile(self, kinds: Sequence[str], also: set[str]) -> list[ObjectRecord]:
        """Objects of `kinds` not finished, being deleted, or among `also` (uids owning live pods).

        Every pass asks: the unfinished and deleting objects are kept in memory, in step with
        each write; only finished owners of live pods (rare, brief) are read from the database."""
        c = _OBJECTS.c
        with self._write_lock:
            if self._active is None:
                with self._engine.connect() as conn:
                    query = _OBJECT.select().where(c.finished.is_(False) | c.deleting.is_(True))
                    self._active = {o.uid: o for o in _OBJECT.all(conn, query)}
            found = [o for o in self._active.values() if o.kind in kinds]
            missing = [uid for uid in also if uid not in self._active]
        if missing:
            with self._engine.connect() as conn:
                query = _OBJECT.select().where(c.kind.in_(list(kinds)), c.uid.in_(missing))
                found += _OBJECT.all(conn, query)
        return sorted(found, key=lambda o: (o.namespace, o.name))

    def add_object_if_absent(self, obj: ObjectRecord) -> bool:
        """Insert unless an object of that kind, namespace and name exists; True when inserted."""
        with self._write_lock, Session(self._engine) as s:
            T = tables.ObjectRow
            found = s.exec(
                select(T.uid).where(T.kind == obj.kind, T.namespace == obj.namespace, T.name == obj.name)
            ).first()
            if found is not None:
                return False
            s.add(T(**_fields(obj, T)))
            s.commit()
            self._object_written(obj.uid)
            return True

    def objects_owned(self, owner_kind: str, owner_uids: Iterable[str] | None = None) -> list[ObjectRecord]:
        """Objects controlled by objects of `owner_kind` (optionally only by the given owners)."""
        c = _OBJECTS.c
        query = _OBJECT.select().where(c.owner_kind == owner_kind)
        if owner_uids is not None:
            query = query.where(c.owner_uid.in_(list(owner_uids)))
        with self._engine.connect() as conn:
            return _OBJECT.all(conn, query.order_by(c.created_at))

    def delete_object(self, uid: str) -> None:
        """Forget an object with its pods and events (after its containers are gone)."""
        with self._write_lock:
            with Session(self._engine) as s:
                s.exec(delete(tables.PodRow).where(col(tables.PodRow.owner_uid) == uid))
                s.exec(delete(tables.EventRow).where(col(tables.EventRow.uid) == uid))
                s.exec(delete(tables.ObjectRow).where(col(tables.ObjectRow.uid) == uid))
                s.commit()
            self._pods.owner_deleted(uid)
            if self._active is not None:
                self._active.pop(uid, None)

    # -- pods -------------------------------------------------------------
    def save_pods(self, pods: Iterable[PodRecord]) -> None:
        """Insert or update pods, all in one transaction: one UPDATE per pod, an INSERT for new ones.

        A log tail is only ever written, never cleared: a record read without its log
        (`with_log=False`) can be saved back without losing the attempt's output."""
        pods = list(pods)
        with self._write_lock:
            with self._engine.begin() as conn:
                for pod in pods:
                    values = column_values(pod, _PODS, leave_out=() if pod.log_tail else ("log_tail",))
                    update = _UPDATE_POD if pod.log_tail else _UPDATE_POD_NO_LOG
                    # (Core adds any column named in the parameters to the SET clause: no log_tail here.)
                    if conn.execute(update, {**values, "key_uid": pod.uid}).rowcount == 0:
                        conn.execute(_INSERT_POD, {"log_tail": "", **values})
            self._pods.saved(pods)  # committed: the cached copies follow

    def save_pod(self, pod: PodRecord) -> None:
        self.save_pods([pod])

    def get_pod(self, namespace: str, name: str) -> PodRecord | None:
        c = _PODS.c
        with self._engine.connect() as conn:
            return _POD.first(conn, _POD.select().where(c.namespace == namespace, c.name == name))

    def get_pod_by_uid(self, uid: str) -> PodRecord | None:
        with self._engine.connect() as conn:
            return _POD.first(conn, _POD.select().where(_PODS.c.uid == uid))

    def pods_of(self, owner_uid: str, with_log: bool = True) -> list[PodRecord]:
        """An owner's pods, oldest first; `with_log=False` leaves `log_tail` empty (planning needs none)."""
        mapper = _POD if with_log else _POD_NO_LOG

        def load() -> list[PodRecord]:
            with self._engine.connect() as conn:
                query = mapper.select().where(_PODS.c.owner_uid == owner_uid).order_by(_PODS.c.created_at)
                return mapper.all(conn, query)

        if with_log:
            return load()
        with self._write_lock:  # planning reads these every pass: kept in memory
            return self._pods.owned(owner_uid, load)

    def list_pods(
        self, namespace: str | None = None, labels: Mapping[str, str] | None = None, with_log: bool = True
    ) -> list[PodRecord]:
        """Pods, optionally only those whose labels include `labels` (filtered in SQL).

        `with_log=False` leaves `log_tail` empty: listings need no logs, and reading up to
        256 KiB per pod dominated `ctl get pods` with thousands of finished pods."""
        c = _PODS.c
        mapper = _POD if with_log else _POD_NO_LOG
        query = mapper.select()
        if namespace:
            query = query.where(c.namespace == namespace)
        for key, value in (labels or {}).items():
            query = query.where(c.labels[key].as_string() == value)
        with self._engine.connect() as conn:
            return mapper.all(conn, query.order_by(c.namespace, c.name))

    def live_pods(self) -> list[PodRecord]:
        """Pods that may still have a container: not terminal, or not yet cleaned up."""

        def load() -> list[PodRecord]:
            with self._engine.connect() as conn:
                return _POD.all(conn, _POD.select().where(_PODS.c.container_removed.is_(False)))

        with self._write_lock:  # every pass reads these: kept in memory
            return self._pods.live(load)

    def delete_pods(self, uids: Sequence[str]) -> None:
        with self._write_lock:
            with Session(self._engine) as s:
                s.exec(delete(tables.PodRow).where(col(tables.PodRow.uid).in_(list(uids))))
                s.commit()
            self._pods.deleted(uids)

    # -- events -----------------------------------------------------------
    def record_event(self, ev: EventRecord, replaces: str | None = None) -> None:
        """Add an event, or bump the count of the same one (object, reason, message); with
        `replaces`, the one with that message, which takes the new one (a retry whose words vary)."""
        key = {"key_uid": ev.uid, "key_reason": ev.reason, "key_message": ev.message if replaces is None else replaces}
        values = {"last_timestamp": ev.last_timestamp, "new_message": ev.message}
        with self._write_lock, self._engine.begin() as conn:
            if conn.execute(_BUMP_EVENT, {**key, **values}).rowcount == 0:
                conn.execute(_EVENTS.insert(), column_values(ev, _EVENTS, leave_out=("id",)))

    def record_object_event(self, obj: ObjectRecord, type_: str, reason: str, message: str, now: dt.datetime) -> None:
        """An event about a workload object (aggregated as `record_event`)."""
        self.record_event(
            EventRecord(
                obj.namespace,
                obj.kind,
                obj.name,
                obj.uid,
                type_,
                reason,
                message,
                first_timestamp=now,
                last_timestamp=now,
            )
        )

    def list_events(self, namespace: str | None = None, uid: str | None = None) -> list[EventRecord]:
        c = _EVENTS.c
        query = _EVENT.select()
        if namespace:
            query = query.where(c.namespace == namespace)
        if uid:
            query = query.where(c.uid == uid)
        with self._engine.connect() as conn:
            return _EVENT.all(conn, query.order_by(c.last_timestamp, c.id))

    # -- identity ---------------------------------------------------------
    def cluster_id(self) -> str:
        """This store's identity, made once: it labels every container this daemon creates."""
        with self._write_lock, Session(self._engine) as s:
            row = s.get(tables.MetaRow, "cluster_id")
            if row is None:
                row = tables.MetaRow(key="cluster_id", value=uuid.uuid4().hex[:12])
                s.add(row)
                s.commit()
            return row.value

    # -- nodes ------------------------------------------------------------
    def node_overrides(self) -> dict[str, NodeOverrides]:
        """Read on every pass, written rarely: served from memory once loaded."""
        cached = self._overrides
        if cached is not None:
            return dict(cached)
        with self._write_lock:  # filled under the lock: a save between read and fill cannot be lost
            if self._overrides is None:
                with Session(self._engine) as s:
                    rows = s.exec(select(tables.NodeRow)).all()
                    self._overrides = {r.name: NodeOverrides(r.name, dict(r.labels), r.unschedulable) for r in rows}
            return dict(self._overrides)

    def save_node_overrides(self, overrides: NodeOverrides) -> None:
        with self._write_lock, Session(self._engine) as s:
            s.merge(
                tables.NodeRow(
                    name=overrides.name, labels=dict(overrides.labels), unschedulable=overrides.unschedulable
                )
            )
            s.commit()
            self._overrides = None

    # -- revisions (DaemonSet template history) ----------------------------
    def revisions_of(self, owner_uid: str) -> list[RevisionRecord]:
        """Oldest revision first."""
        c = _REVISIONS.c
        with self._engine.connect() as conn:
            return _REVISION.all(conn, _REVISION.select().where(c.owner_uid == owner_uid).order_by(c.revision))

    def save_revisions(
        self, owner_uid: str, revisions: Iterable[RevisionRecord], delete_hashes: Iterable[str] = ()
    ) -> None:
        """Insert or update an owner's revisions and drop some by hash, in one transaction."""
        with self._write_lock, Session(self._engine) as s:
            for rev in revisions:
                s.merge(tables.RevisionRow(id=f"{owner_uid}/{rev.hash}", **_fields(rev, tables.RevisionRow)))
            ids = [f"{owner_uid}/{h}" for h in delete_hashes]
            if ids:
                s.exec(delete(tables.RevisionRow).where(col(tables.RevisionRow.id).in_(ids)))
            s.commit()

    def delete_revisions_of(self, owner_uid: str) -> None:
        with self._write_lock, Session(self._engine) as s:
            s.exec(delete(tables.RevisionRow).where(col(tables.RevisionRow.owner_uid) == owner_uid))
            s.commit()


def engine_url(url: str) -> str:
    """`postgresql://...` means psycopg 3 (the driver miniorch installs), not SQLAlchemy's psycopg2 default."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _unavailable(ctx: sqlalchemy.engine.ExceptionContext) -> None:
    """SQLAlchemy's error hook: a lost or refused connection becomes StoreUnavailable; the rest is left alone."""
    orig = ctx.original_exception
    lost = ctx.is_disconnect or (
        ctx.dialect is not None
        and ctx.dialect.name == "postgresql"
        and type(orig).__name__ != "IntegrityError"
        and isinstance(orig, ctx.dialect.loaded_dbapi.OperationalError)
    )
    if lost:
        first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        raise StoreUnavailable(f"the database did not answer: {first}") from ctx.sqlalchemy_exception


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
