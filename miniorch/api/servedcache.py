"""What lists answer, kept by uid and version, as the API server's watch cache keeps objects: a list
reads only each object's (uid, version key) and makes again only what changed since.

Two are kept: served pods (plain pod lists) and Table rows (`table.KeptRow`, for Jobs and pods).
Bounded, least recently listed out first: a list longer than the bound makes the rest each time.
What is kept is shared between answers: callers serialise it and never change it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

Served = dict[str, Any]
T = TypeVar("T")
#: Pods kept: about 2.5 KB each in memory, so 20,000 cost some 50 MB at most.
MAX_PODS = 20_000
#: Table rows kept (cells and metadata, about 1 KB each): 20,000 Jobs and 10,000 pods fit.
MAX_ROWS = 40_000
#: A pod's key: (its resource version, its owner's resource version): the render depends on both.
Key = Hashable


class Kept(Generic[T]):
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


def served_pods() -> Kept[Served]:
    return Kept(MAX_PODS)


def kept_rows() -> Kept[Any]:
    return Kept(MAX_ROWS)
