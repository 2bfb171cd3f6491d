"""The Store: intent-named reads and writes of miniorch's state in SQL, one facade over its concerns.

SQLite (WAL) by default, PostgreSQL by URL. Every write commits before it returns, so a result
recorded here survives a crash of the daemon. The work is done by one module per concern
(`objects`, `pods`, `events`, `revisions`, `cluster`; the leader lease in `lease`), all through
SQLAlchemy Core (`rows`) on one engine and write lock (`connect`), with the caches of `caches`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from miniorch.store import connect, lease, schema, secretbox
from miniorch.store.caches import EventKeys, ObjectCache, OverridesCache, PodCache
from miniorch.store.cluster import Cluster
from miniorch.store.connect import engine_url
from miniorch.store.events import Events, object_event
from miniorch.store.notifications import Notifications
from miniorch.store.objects import Objects
from miniorch.store.pods import Pods
from miniorch.store.records import EventRecord, NodeOverrides, ObjectRecord, ObjectRef, PodRecord, RevisionRecord
from miniorch.store.revisions import Revisions
from miniorch.store.versions import Change, Versions

__all__ = ["Store", "engine_url"]


class Store:
    """All persistent state; safe to call from several threads."""

    def __init__(self, url: str, password: str | None = None) -> None:
        """`password` (from `database_password_file`) goes to the driver only: never into a URL or a message."""
        self._engine = connect.create(url, password)
        try:
            self.schema = schema.upgrade(self._engine)
        except BaseException:
            self._engine.dispose()
            raise
        connect.classify_errors(self._engine)
        db = connect.Db(self._engine, threading.Lock())
        self._caches = (PodCache(), ObjectCache(), OverridesCache(), EventKeys())
        pod_cache, object_cache, overrides, event_keys = self._caches
        self._db = db
        self._objects = Objects(db, object_cache, pod_cache)
        self._pods = Pods(db, pod_cache)
        self._events = Events(db, event_keys)
        self._revisions = Revisions(db)
        self._cluster = Cluster(db, overrides)
        self._versions = Versions(db)
        self.notifications = Notifications(db)  # the failure-notification queue (DESIGN 12)

    def close(self) -> None:
        self._engine.dispose()

    def use_secrets(self, box: secretbox.SecretBox) -> None:
        """Seal Secrets with `box` from now on; SecretsKeyError when it does not open this database's."""
        secretbox.verify(self._db, box)
        self._objects.box = box

    def fence_writes(self, allowed: Callable[[], bool]) -> None:
        """Refuse every write but the lease's (StoreUnavailable) while `allowed()` is False (`connect.fence_writes`)."""
        connect.fence_writes(self._engine, allowed)

    @property
    def leases(self) -> lease.Leases:
        """The leader lease of daemons sharing this database (DESIGN 8)."""
        return lease.Leases(self._engine)

    def forget_cached(self) -> None:
        """Drop the in-memory copies: another daemon may have written since (a new leader starts clean)."""
        with self._db.lock:
            for cache in self._caches:
                cache.clear()

    # -- objects ----------------------------------------------------------
    def add_object(self, obj: ObjectRecord) -> None:
        self._objects.add(obj)

    def save_object(self, obj: ObjectRecord) -> None:
        """Replace an object's manifest, status and flags."""
        self._objects.save(obj)

    def save_statuses(self, statuses: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """(uid, status) of many objects not finished (a cron herd's CronJobs), in one transaction."""
        self._objects.save_statuses(statuses)

    def save_status(self, uid: str, status: dict[str, Any], finished: bool = False) -> None:
        """Set an object's status; `finished` objects are left out of `objects_to_reconcile`."""
        self._objects.save_status(uid, status, finished)

    def save_manifest(self, uid: str, manifest: dict[str, Any], generation: int, source: str) -> None:
        """A new spec from apply or patch; status is the controllers' and stays."""
        self._objects.save_manifest(uid, manifest, generation, source)

    def mark_deleting(self, uid: str) -> None:
        self._objects.mark_deleting(uid)

    def get_object(self, kind: str, namespace: str, name: str) -> ObjectRecord | None:
        return self._objects.get(kind, namespace, name)

    def objects_by_uid(self, uids: Iterable[str]) -> dict[str, ObjectRecord]:
        """The objects with these uids (the owners of a page of pods), by uid."""
        return self._objects.by_uids(uids)

    def get_object_by_uid(self, uid: str) -> ObjectRecord | None:
        return self._objects.by_uid(uid)

    def count(self, kind: str) -> int:
        """How many objects (or pods) of `kind` there are, every namespace (an index count, no row read)."""
        return self._pods.count() if kind == "Pod" else self._objects.count(kind)

    def object_versions(self, kind: str, namespace: str | None = None) -> list[tuple[str, int]]:
        """(uid, resourceVersion) of the objects `list_objects(kind, namespace)` lists, in its order."""
        return self._objects.versions(kind, namespace)

    def versions_of(self, uids: Iterable[str]) -> dict[str, int]:
        """The resourceVersion of each object of these uids (the owners of a list of pods)."""
        return self._objects.versions_of(uids)

    def list_objects(self, kind: str | None = None, namespace: str | None = None) -> list[ObjectRecord]:
        """By namespace, then name."""
        return self._objects.all(kind, namespace)

    def newest_objects(
        self, kind: str, namespace: str | None = None, owner_uid: str | None = None, offset: int = 0, limit: int = 100
    ) -> tuple[int, list[ObjectRecord]]:
        """(how many objects of `kind` match, a page of them newest first), optionally of one owner."""
        return self._objects.newest(kind, namespace, owner_uid, offset, limit)

    def object_index(self) -> list[tuple[str, str, int, bool]]:
        """(uid, kind, generation, finished) of every object: no manifest or status read (cheap at 20,000 Jobs)."""
        return self._objects.index()

    def file_object_refs(self) -> list[ObjectRef]:
        """Objects whose source is a manifest file (`file:<path>`), deleting ones included; no manifests read."""
        return self._objects.file_refs()

    def objects_to_reconcile(self, kinds: Sequence[str], also: set[str]) -> list[ObjectRecord]:
        """Objects of `kinds` not finished, being deleted, or among `also` (uids owning live pods).

        Every pass asks: the unfinished and deleting objects are kept in memory, in step with
        each write; only finished owners of live pods (rare, brief) are read from the database."""
        return self._objects.to_reconcile(kinds, also)

    def add_object_if_absent(self, obj: ObjectRecord) -> bool:
        """Insert unless an object of that kind, namespace and name exists; True when inserted."""
        return self._objects.add_if_absent(obj)

    def add_objects_if_absent(self, objs: Sequence[ObjectRecord]) -> set[str]:
        """`add_object_if_absent` of each, in one transaction; the uids of those inserted."""
        return self._objects.add_all_if_absent(objs)

    def objects_owned(self, owner_kind: str, owner_uids: Iterable[str] | None = None) -> list[ObjectRecord]:
        """Objects controlled by objects of `owner_kind` (optionally only by the given owners), oldest first."""
        return self._objects.owned(owner_kind, owner_uids)

    def owned_versions(self, owner_kind: str) -> list[tuple[str, int, str]]:
        """(uid, resourceVersion, owner uid) of what `objects_owned(owner_kind)` lists, in its order."""
        return self._objects.owned_versions(owner_kind)

    def delete_object(self, uid: str) -> None:
        """Forget an object with its pods and events (after its containers are gone)."""
        self._objects.delete(uid)

    # -- pods -------------------------------------------------------------
    def save_pods(self, pods: Iterable[PodRecord]) -> None:
        """Insert or update pods, all in one transaction: one UPDATE per pod, an INSERT for new ones.

        A log tail is only ever written, never cleared: a record read without its log
        (`with_log=False`) can be saved back without losing the attempt's output."""
        self._pods.save(pods)

    def save_pod(self, pod: PodRecord) -> None:
        self._pods.save([pod])

    def get_pod(self, namespace: str, name: str) -> PodRecord | None:
        return self._pods.get(namespace, name)

    def get_pod_by_uid(self, uid: str) -> PodRecord | None:
        return self._pods.by_uid(uid)

    def pods_of(self, owner_uid: str, with_log: bool = True) -> list[PodRecord]:
        """An owner's pods, oldest first; `with_log=False` leaves `log_tail` empty (planning needs none)."""
        return self._pods.of(owner_uid, with_log)

    def forget_pods_of(self, owner_uid: str) -> None:
        """The owner's pods are planned no more (a finished Job whose last container went): their
        copies in memory go; a later read loads them again."""
        self._pods.forget(owner_uid)

    def pod_changes(self, owner_uid: str) -> tuple[bool, list[PodRecord]]:
        """What `pods_of(owner_uid, with_log=False)` gained since the last call: (True, all of them,
        oldest first) on the first call and whenever the caller must start again (a pod was deleted,
        the copies were dropped), else (False, the pods saved since, each once, new ones in the
        order they were first saved). For the owner's one planner: a second caller would take the
        first's changes."""
        return self._pods.changes(owner_uid)

    def list_pods(
        self, namespace: str | None = None, labels: Mapping[str, str] | None = None, with_log: bool = True
    ) -> list[PodRecord]:
        """Pods, optionally only those whose labels include `labels` (filtered in SQL).

        `with_log=False` leaves `log_tail` empty: listings need no logs, and reading up to
        256 KiB per pod dominated `ctl get pods` with thousands of finished pods."""
        return self._pods.all(namespace, labels, with_log)

    def pod_versions(
        self, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> list[tuple[str, int, str]]:
        """(uid, resource_version, owner_uid) of the pods `list_pods` would list, in its order: what a
        cache of served pods needs to know which of them changed."""
        return self._pods.versions(namespace, labels or {})

    def pods_by_uid(self, uids: Sequence[str]) -> list[PodRecord]:
        """These pods (without log tails), in no order; a uid not found is left out."""
        return self._pods.by_uids(uids)

    def live_pods(self) -> list[PodRecord]:
        """Pods that may still have a container: not terminal, or not yet cleaned up."""
        return self._pods.live()

    def delete_pods(self, uids: Sequence[str]) -> None:
        self._pods.delete(uids)

    # -- events -----------------------------------------------------------
    def record_event(self, ev: EventRecord, replaces: str | None = None) -> None:
        """Add an event, or bump the count of the same one (object, reason, message); with
        `replaces`, the one with that message, which takes the new one (a retry whose words vary)."""
        self._events.record(ev, replaces)

    def record_events(self, events: Sequence[EventRecord]) -> None:
        """`record_event` of each (none replacing another), in one transaction."""
        self._events.record_all([(ev, None) for ev in events])

    def record_object_event(self, obj: ObjectRecord, type_: str, reason: str, message: str, now: dt.datetime) -> None:
        """An event about a workload object (aggregated as `record_event`)."""
        self._events.record(object_event(obj, type_, reason, message, now), None)

    def list_events(self, namespace: str | None = None, uid: str | None = None) -> list[EventRecord]:
        """Oldest (last seen) first."""
        return self._events.all(namespace, uid)

    # -- identity and nodes -----------------------------------------------
    def cluster_id(self) -> str:
        """This store's identity, made once: it labels every container this daemon creates."""
        return self._cluster.cluster_id()

    def node_overrides(self) -> dict[str, NodeOverrides]:
        """Read on every pass, written rarely: served from memory once loaded."""
        return self._cluster.node_overrides()

    def save_node_overrides(self, overrides: NodeOverrides) -> None:
        self._cluster.save_node_overrides(overrides)

    # -- revisions (DaemonSet template history) ----------------------------
    def revisions_of(self, owner_uid: str) -> list[RevisionRecord]:
        """Oldest revision first."""
        return self._revisions.of(owner_uid)

    def save_revisions(
        self, owner_uid: str, revisions: Iterable[RevisionRecord], delete_hashes: Iterable[str] = ()
    ) -> None:
        """Insert or update an owner's revisions and drop some by hash, in one transaction."""
        self._revisions.save(owner_uid, revisions, delete_hashes)

    def delete_revisions_of(self, owner_uid: str) -> None:
        self._revisions.delete_of(owner_uid)

    # -- resourceVersion and the change log (the Kubernetes API's watch) ----
    def resource_version(self) -> int:
        """The newest resourceVersion handed out; read it before a list, and watch from it."""
        return self._versions.current()

    def changes_since(self, rv: int, kinds: Sequence[str], limit: int = 5000) -> list[Change]:
        """Writes of rows of `kinds` after version `rv`, oldest first; `versions.Gone` when `rv` is
        older than the change log keeps."""
        return self._versions.since(rv, kinds, limit)
