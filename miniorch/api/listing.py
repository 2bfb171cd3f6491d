"""One kind's list kept in memory, in list order, brought up to date from the change log (as the API
server's watch cache serves lists): a list of 10,000 pods reads the writes since the last list,
usually none or a few, and makes again only the items they name.

Each list reads the store's resourceVersion, then the changes after the last list's of the kind and
of the kinds its items show (a pod's row shows its owner's template), makes those items again (a uid
`make` does not return is gone) and answers in (namespace, name) order. The first list, a change
log that no longer reaches the last list, or more changes than one read, build it again; a kind
with more items than the bound is not kept (the caller lists it the long way) for a minute.
Blocking: call from a worker.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from miniorch.store import versions
from miniorch.store.store import Store

T = TypeVar("T")
#: (namespace, name, uid, owner uid) of an item.
Key = Callable[[T], tuple[str, str, str, str]]
#: Changes read at once; more since the last list: built again.
CHANGES = 2000
#: How long a kind found over the bound is listed the long way before it is tried again.
RETRY_SECONDS = 60.0


@dataclass
class _Kept(Generic[T]):
    at: int  # the resourceVersion the items are up to date with
    items: dict[str, T]  # by uid
    order: list[tuple[str, str, str]]  # (namespace, name, uid), sorted


class Listing(Generic[T]):
    """`kind`'s items; `watched`: the kinds whose changes make items again (the kind first)."""

    def __init__(self, watched: Sequence[str], bound: int, key: Key[T]) -> None:
        self.kind, self.watched, self.bound, self._key = watched[0], tuple(watched), bound, key
        self._kept: _Kept[T] | None = None
        self._over_until = 0.0
        self._lock = threading.Lock()

    def listed(
        self,
        store: Store,
        namespace: str | None,
        build: Callable[[], list[T]],
        make: Callable[[list[str]], dict[str, T]],
    ) -> tuple[int, list[T]] | None:
        """(resourceVersion, the items in `namespace`, all when None), or None while the kind has
        more items than the bound. `build` lists every item (all namespaces), `make` makes items by uid."""
        if time.monotonic() < self._over_until:
            return None
        with self._lock:
            rv = store.resource_version()  # read first: a write after it is in the next list's changes
            kept = self._kept
            if kept is not None and not self._caught_up(store, kept, make):
                kept = None
            if kept is None and store.count(self.kind) <= self.bound:  # an index count, before any row is made
                items = build()
                kept = _Kept(rv, {self._key(i)[2]: i for i in items}, [])
                self._order(kept)
            if kept is None or len(kept.items) > self.bound:
                self._kept, self._over_until = None, time.monotonic() + RETRY_SECONDS
                return None
            kept.at, self._kept = rv, kept
            return rv, self._in(kept, namespace)

    def _caught_up(self, store: Store, kept: _Kept[T], make: Callable[[list[str]], dict[str, T]]) -> bool:
        """Make again what was written since `kept.at`; False when the change log cannot tell."""
        try:
            changes = store.changes_since(kept.at, self.watched, CHANGES)
        except versions.Gone:
            return False
        if len(changes) >= CHANGES:
            return False
        if not changes:
            return True
        uids = {c.uid for c in changes if c.kind == self.kind}
        owners = {c.uid for c in changes if c.kind != self.kind}
        if owners:
            uids.update(uid for uid, item in kept.items.items() if self._key(item)[3] in owners)
        made = make(sorted(uids))
        moved = False
        for uid in uids:
            item, old = made.get(uid), kept.items.get(uid)
            if item is None:
                moved |= kept.items.pop(uid, None) is not None
                continue
            kept.items[uid] = item
            moved |= old is None or self._key(old)[:2] != self._key(item)[:2]
        if moved:
            self._order(kept)
        return True

    def _order(self, kept: _Kept[T]) -> None:
        kept.order = sorted((ns, name, uid) for ns, name, uid, _ in map(self._key, kept.items.values()))

    @staticmethod
    def _in(kept: _Kept[T], namespace: str | None) -> list[T]:
        order, items = kept.order, kept.items
        if namespace is None:
            return [items[uid] for _, _, uid in order]
        # (namespace + "\0",) is the first tuple after every (namespace, name, uid)
        lo, hi = bisect.bisect_left(order, (namespace,)), bisect.bisect_left(order, (namespace + "\0",))
        return [items[uid] for _, _, uid in order[lo:hi]]
