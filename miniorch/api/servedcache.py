"""The served form of pods, kept by uid and resource version, as the API server's watch cache keeps
objects: a list reads only each pod's (uid, resourceVersion) and renders what changed since.

Bounded (least recently listed out first): a list longer than the bound renders the rest each time.
The served dicts are shared between answers: callers serialise them and never change them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

Served = dict[str, Any]
#: Pods kept: about 2.5 KB each in memory, so 20,000 cost some 50 MB at most.
MAX_PODS = 20_000
#: (the pod's resource version, its owner's resource version): the render depends on both.
Key = tuple[int, int]


class ServedPods:
    def __init__(self, max_pods: int = MAX_PODS) -> None:
        self.max_pods = max_pods
        self._items: OrderedDict[str, tuple[Key, Served]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def served(
        self, wanted: Iterable[tuple[str, Key]], render: Callable[[list[str]], dict[str, Served]]
    ) -> list[Served]:
        """The served pods of `wanted` (uid, key), in its order; `render` makes the ones not kept at
        that key (by uid; a pod it does not return is gone since and left out)."""
        wanted = list(wanted)
        out: list[Served | None] = []
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
            made = render(missing)
            keys = dict(wanted)
            with self._lock:
                for uid, served in made.items():
                    self._items[uid] = (keys[uid], served)
                    self._items.move_to_end(uid)
                while len(self._items) > self.max_pods:
                    self._items.popitem(last=False)
            out = [o if o is not None else made.get(uid) for o, (uid, _) in zip(out, wanted, strict=True)]
        return [o for o in out if o is not None]
