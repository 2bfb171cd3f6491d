"""What is made from store rows, kept by uid and version: made again only when the row was written since.

The served pods and Table rows of the API (`api.servedcache`) and the CronJob pass's views of its
Jobs are kept so; a reader lists only (uid, version) pairs, a query that reads no JSON column.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")
#: What a kept item is made from: a row's resource version, or a tuple (a pod's and its owner's).
Key = Hashable


class Kept(Generic[T]):
    """Bounded, the oldest made out first: a list longer than the bound makes the rest each time.
    What is kept is shared between readers, who never change it."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._items: dict[str, tuple[Key, T]] = {}  # oldest made first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def served(self, wanted: Iterable[tuple[str, Key]], make: Callable[[list[str]], dict[str, T]]) -> list[T]:
        """What is kept for `wanted` (uid, key), in its order; `make` makes the ones not kept at that
        key (by uid; a uid it does not return is gone since and left out)."""
        wanted = list(wanted)
        with self._lock:
            get = self._items.get
            found = [get(uid) for uid, _ in wanted]
        out = [k[1] if k is not None and k[0] == key else None for k, (_, key) in zip(found, wanted, strict=True)]
        missing = [uid for o, (uid, _) in zip(out, wanted, strict=True) if o is None]
        if not missing:
            return out  # type: ignore[return-value]  # every item kept: no None
        made = make(missing)
        keys = dict(wanted)
        with self._lock:
            for uid, item in made.items():
                self._items.pop(uid, None)  # made again: now the newest
                self._items[uid] = (keys[uid], item)
            for uid in list(itertools.islice(self._items, max(0, len(self._items) - self.bound))):
                del self._items[uid]
        out = [o if o is not None else made.get(uid) for o, (uid, _) in zip(out, wanted, strict=True)]
        return [o for o in out if o is not None]
