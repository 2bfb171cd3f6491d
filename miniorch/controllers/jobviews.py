"""Each Job's pods as its planner reads them, kept from the store's changes between passes.

A pass of a big Job used to copy, sort, view and walk every one of its pods (thousands,
finished but for twenty), so its CPU per pod grew with the Job. Here a Job's finished pods
are folded into a `jobsettled.Settled` once, as each finishes, and a pass takes only the
pods saved since the last one (`Store.pod_changes`) and sorts only the unfinished. The
order is `Store.pods_of`'s: creation time, then the order the pods were first saved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from miniorch.controllers import podrecords
from miniorch.reconcile import jobsettled
from miniorch.reconcile.views import PodView
from miniorch.store.records import PodRecord
from miniorch.store.store import Store

_Key = tuple[dt.datetime, int]  # (created_at, the order it was first seen): the pods' order


@dataclass(frozen=True)
class JobPods:
    """What one pass plans from: the finished pods summed up, the unfinished ones in pod order
    (their records, for carrying the plan out, and their views)."""

    settled: jobsettled.Settled
    records: list[PodRecord]
    views: list[PodView]


@dataclass
class _Kept:
    settled: jobsettled.Settled = field(default_factory=jobsettled.Settled)
    finished: dict[str, PodView] = field(default_factory=dict)  # uid -> view, for noticing a change
    unfinished: dict[str, tuple[_Key, PodRecord, PodView]] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)  # uid -> the order it was first seen

    def add(self, record: PodRecord) -> bool:
        """Take a saved record; False when a finished pod changed what it counts (start again)."""
        order = self.seen.setdefault(record.uid, len(self.seen))
        view = podrecords.view_of(record)
        if record.uid in self.finished:
            return view == self.finished[record.uid]  # its log or removal: nothing it counts
        if view.phase.terminal:
            self.unfinished.pop(record.uid, None)
            self.finished[record.uid] = view
            self.settled.add(view, (record.created_at, order))
        else:
            self.unfinished[record.uid] = ((record.created_at, order), record, view)
        return True


def _kept(records: Iterable[PodRecord]) -> _Kept:
    kept = _Kept()
    for record in records:  # in the store's order: the first seen first
        kept.add(record)
    return kept


class JobViews:
    """Per Job, its pods kept as `JobPods` between passes (the Job planner's only reader of them)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._jobs: dict[str, _Kept] = {}

    def pods(self, owner_uid: str) -> JobPods:
        full, changed = self._store.pod_changes(owner_uid)
        kept = self._jobs.get(owner_uid)
        if full or kept is None:
            # None but not full: forgotten here (`keep`) while the store still followed it.
            kept = _kept(changed if full else self._store.pods_of(owner_uid, with_log=False))
        elif not all([kept.add(record) for record in changed]):
            kept = _kept(self._store.pods_of(owner_uid, with_log=False))  # rare: a finished pod changed
        self._jobs[owner_uid] = kept
        unfinished = sorted(kept.unfinished.values(), key=lambda item: item[0])
        return JobPods(kept.settled, [r for _, r, _ in unfinished], [v for _, _, v in unfinished])

    def keep(self, owners: Collection[str]) -> None:
        """Forget the Jobs not in `owners` (deleted, or finished with their last container gone),
        and have the store drop its copies of their pods: a finished Job's pods were read once more
        after its status was final, and then stayed in memory, thousands for a big Job."""
        for uid in [u for u in self._jobs if u not in owners]:
            del self._jobs[uid]
            self._store.forget_pods_of(uid)
