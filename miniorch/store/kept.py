"""What is made from store rows, kept by uid and version: made again only when the row was written since.

The served pods and Table rows of the API (`api.servedcache`) and the CronJob pass's views of its
Jobs are kept so; a reader lists only (uid, version) pairs, a query that reads no JSON column.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")
#: What a kept item is made from: a row's resource version, or a tuple (a pod's and its owner's).
Key = Hashable


class Kept(Generic[T]):
    """Bounded, least recently listed out first: a list longer than the bound makes the rest each time.
    What is kept is shared between readers, who never change it."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._items: OrderedDict[str, tuple[Key, T]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def served(self, wanted: Iterable[tuple[str, Key]], make: Callable[[list[str]], dict[str, T]]) -> list[T]:
        """What is kept for `wanted` (uid, key), in its order; `make` makes the ones not kept at that
        key (by uid; a uid it does not return is gone since and left out)."""
        wanted = list(wanted)
        out: list[T | None] = []
        missing: list[str] = []
        with self._lock:
            for uid, key in wanted:
                kept = self._items.get(uid)
                if kept is not None and kept[0] == key:
                    self._items.move_to_end(uid)
                    out.append(kept[1])
                else:
                    out.append(None)
                    missing.append(uid)
        if missing:
            made = make(missing)
            keys = dict(wanted)
            with self._lock:
                for uid, item in made.items():
                    self._items[uid] = (keys[uid], item)
                    self._items.move_to_end(uid)
                while len(self._items) > self.bound:
                    self._items.popitem(last=False)
            out = [o if o is not None else made.get(uid) for o, (uid, _) in zip(out, wanted, strict=True)]
        return [o for o in out if o is not None]
