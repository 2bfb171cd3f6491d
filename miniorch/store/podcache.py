"""The pods every reconcile pass reads, kept in memory in step with the Store's writes.

Only this daemon writes its database, and every pod write goes through the Store, so a
write-through copy is exact: passes stop re-reading (and re-decoding) the same rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from miniorch.store.records import PodRecord

MAX_OWNERS = 256  # owners whose pods are cached; beyond, the cache starts again


class PodCache:
    """Live pods (a container may exist), and all pods of the owners being planned (no logs).

    Not locked itself: the Store calls it under its write lock."""

    def __init__(self) -> None:
        self._live: dict[str, PodRecord] | None = None  # None: not loaded yet
        self._owned: dict[str, dict[str, PodRecord]] = {}

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
            pods = self._owned[owner_uid] = {p.uid: p for p in load()}
        return sorted(pods.values(), key=lambda p: p.created_at)

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
                owned[pod.uid] = dataclasses.replace(pod, log_tail="") if pod.log_tail else pod

    def deleted(self, uids: Iterable[str]) -> None:
        gone = set(uids)
        if self._live is not None:
            for uid in gone:
                self._live.pop(uid, None)
        for owned in self._owned.values():
            for uid in gone:
                owned.pop(uid, None)

    def owner_deleted(self, owner_uid: str) -> None:
        if self._live is not None:
            self._live = {uid: p for uid, p in self._live.items() if p.owner_uid != owner_uid}
        self._owned.pop(owner_uid, None)

    def owner_finished(self, owner_uid: str) -> None:
        """No more planning for it: its pods need not stay in memory."""
        self._owned.pop(owner_uid, None)
