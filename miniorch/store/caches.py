"""In-memory copies of what every reconcile pass reads, kept in step with the Store's writes.

Only the leading daemon writes its database and every write goes through the Store, so a
write-through copy is exact: passes stop re-reading (and re-decoding) the same rows.
The one locking rule: a cache is read, filled and changed only while holding `Db.lock`, and a
write changes it after its transaction commits, within that same hold; the caches take no lock
themselves. They hold no controller policy: what is cached follows from the Store's contract
(live pods: container not removed; the reconcile set: `in_reconcile_set`), `finished` comes from
the caller of `save_status`, and dropping a copy only ever costs a read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from miniorch.store.records import NodeOverrides, ObjectRecord, PodRecord

MAX_OWNERS = 256  # owners whose pods are cached; beyond, the cache starts again


def in_reconcile_set(finished: bool, deleting: bool) -> bool:
    """`Store.objects_to_reconcile`'s contract: objects not finished, or being deleted."""
    return not finished or deleting


class PodCache:
    """Live pods (a container may exist), and all pods of the owners being planned (no logs)."""

    def __init__(self) -> None:
        self._live: dict[str, PodRecord] | None = None  # None: not loaded yet
        self._owned: dict[str, dict[str, PodRecord]] = {}
        # Owner -> its pods saved since `changes` last ran for it (uid -> the copy in `_owned`).
        # An owner without one gets all its pods from `changes` next time.
        self._changed: dict[str, dict[str, PodRecord]] = {}

    def clear(self) -> None:
        self._live = None
        self._owned = {}
        self._changed = {}

    def live(self, load: Callable[[], list[PodRecord]]) -> list[PodRecord]:
        if self._live is None:
            self._live = {p.uid: p for p in load()}
        return list(self._live.values())

    def owned(self, owner_uid: str, load: Callable[[], list[PodRecord]]) -> list[PodRecord]:
        """An owner's pods without logs, oldest first."""
        pods = self._owned.get(owner_uid)
        if pods is None:
            if len(self._owned) >= MAX_OWNERS:
                self._owned.clear()
                self._changed.clear()
            pods = self._owned[owner_uid] = {p.uid: p for p in load()}
        return sorted(pods.values(), key=lambda p: p.created_at)

    def changes(self, owner_uid: str, load: Callable[[], list[PodRecord]]) -> tuple[bool, list[PodRecord]]:
        """(True, all the owner's pods as `owned` gives them) the first time and whenever the copies
        were dropped or a pod deleted; else (False, the pods saved since the last call, each once,
        new ones in the order they were first saved). For the one planner of the owner."""
        journal = self._changed.get(owner_uid)
        if journal is None or owner_uid not in self._owned:
            pods = self.owned(owner_uid, load)
            self._changed[owner_uid] = {}
            return True, pods
        self._changed[owner_uid] = {}
        return False, list(journal.values())

    def saved(self, pods: Iterable[PodRecord]) -> None:
        for pod in pods:
            if self._live is not None:
                if pod.container_removed:
                    self._live.pop(pod.uid, None)
                else:
                    before = self._live.get(pod.uid)
                    if before is not None and before.log_tail and not pod.log_tail:  # a log is never cleared
                        pod = dataclasses.replace(pod, log_tail=before.log_tail)
                    self._live[pod.uid] = pod
            owned = self._owned.get(pod.owner_uid)
            if owned is not None:
                copy = owned[pod.uid] = dataclasses.replace(pod, log_tail="") if pod.log_tail else pod
                journal = self._changed.get(pod.owner_uid)
                if journal is not None:
                    journal[pod.uid] = copy

    def deleted(self, uids: Iterable[str]) -> None:
        gone = set(uids)
        if self._live is not None:
            for uid in gone:
                self._live.pop(uid, None)
        for owner_uid, owned in self._owned.items():
            popped = [uid for uid in gone if owned.pop(uid, None) is not None]
            if popped:
                self._changed.pop(owner_uid, None)  # rare: its planner starts again from all its pods

    def owner_deleted(self, owner_uid: str) -> None:
        if self._live is not None:
            self._live = {uid: p for uid, p in self._live.items() if p.owner_uid != owner_uid}
        self._owned.pop(owner_uid, None)
        self._changed.pop(owner_uid, None)

    def owner_finished(self, owner_uid: str) -> None:
        """Its pods are read no more by planning: their copies need not stay in memory."""
        self._owned.pop(owner_uid, None)
        self._changed.pop(owner_uid, None)


class ObjectCache:
    """The reconcile set (`in_reconcile_set`) by uid, once loaded."""

    def __init__(self) -> None:
        self._objects: dict[str, ObjectRecord] | None = None  # None: not loaded yet

    def clear(self) -> None:
        self._objects = None

    @property
    def loaded(self) -> bool:
        return self._objects is not None

    def all(self, load: Callable[[], list[ObjectRecord]]) -> dict[str, ObjectRecord]:
        if self._objects is None:
            self._objects = {o.uid: o for o in load()}
        return self._objects

    def written(self, uid: str, record: ObjectRecord | None, finished: bool) -> None:
        """The committed row of `uid` as read back (None: gone)."""
        if self._objects is None:
            return
        if record is not None and in_reconcile_set(finished, record.deleting):
            self._objects[uid] = record
        else:
            self._objects.pop(uid, None)

    def status_saved(self, uid: str, status: dict[str, Any], finished: bool) -> bool:
        """Follow a status write without reading back; False when the row must be read (not cached)."""
        if self._objects is None:
            return True
        cached = self._objects.get(uid)
        if cached is None:
            return False  # e.g. a finished Job given a status again
        if in_reconcile_set(finished, cached.deleting):
            self._objects[uid] = dataclasses.replace(cached, status=status)  # the common case, once per pass
        else:
            del self._objects[uid]  # done: no more passes for it
        return True

    def deleted(self, uid: str) -> None:
        if self._objects is not None:
            self._objects.pop(uid, None)


class EventKeys:
    """Per object uid, the ids of its event rows by (reason, message), once read: the bump of an
    aggregated event looks its row up by id instead of scanning every event of the object (a big
    Job has one per pod it made). Stale ids are harmless: the bump checks the key on the row too."""

    def __init__(self) -> None:
        self._by_uid: dict[str, dict[tuple[str, str], list[int]]] = {}

    def clear(self) -> None:
        self._by_uid = {}

    def ids(self, uid: str, load: Callable[[], Iterable[tuple[int, str, str]]]) -> dict[tuple[str, str], list[int]]:
        """(reason, message) -> ids, ascending; `load` gives (id, reason, message) of its rows."""
        keys = self._by_uid.get(uid)
        if keys is None:
            if len(self._by_uid) >= MAX_OWNERS:
                self._by_uid.clear()
            keys = self._by_uid[uid] = {}
            for id_, reason, message in load():
                keys.setdefault((reason, message), []).append(id_)
            for found in keys.values():
                found.sort()
        return keys

    def written(self, uid: str, changed: dict[tuple[str, str], list[int]]) -> None:
        """A committed write's keys of `uid` and their ids now (kept only while `uid` is known)."""
        keys = self._by_uid.get(uid)
        if keys is not None:
            keys.update(changed)


class OverridesCache:
    """The node overrides (read on every pass, written rarely), once loaded."""

    def __init__(self) -> None:
        self._overrides: dict[str, NodeOverrides] | None = None

    def clear(self) -> None:
        self._overrides = None

    def get(self, load: Callable[[], dict[str, NodeOverrides]]) -> dict[str, NodeOverrides]:
        if self._overrides is None:
            self._overrides = load()
        return dict(self._overrides)
