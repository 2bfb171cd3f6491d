"""The workload objects' states for `/metrics` (`miniorch_objects{kind,state}`) at each scrape.

A finished object's state never changes while its generation does not (its outcome is final), so
it is decided once and remembered: a scrape reads every object's uid, kind, generation and flag,
and the manifests and statuses of the unfinished and new ones only. Reading and decoding every
object at each scrape cost about a second of CPU with 20,000 finished Jobs (bench/history.py).
"""

from __future__ import annotations

from miniorch import kinds
from miniorch.store.store import Store

#: Objects read and decoded at a time.
CHUNK = 1000


class ObjectStates:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._finished: dict[tuple[str, int], tuple[str, str]] = {}  # (uid, generation) -> (kind, state)

    def __call__(self) -> list[tuple[str, str]]:
        index = self._store.object_index()
        wanted = [uid for uid, _, gen, finished in index if not finished or (uid, gen) not in self._finished]
        read: dict[str, tuple[str, str]] = {}
        for start in range(0, len(wanted), CHUNK):  # the first scrape of 20,000 Jobs: a chunk in memory at once
            for uid, record in self._store.objects_by_uid(wanted[start : start + CHUNK]).items():
                read[uid] = (record.kind, kinds.get(record.kind).state(record.manifest, record.status))
        out: list[tuple[str, str]] = []
        keep: dict[tuple[str, int], tuple[str, str]] = {}
        for uid, _kind, gen, finished in index:
            if uid in read:
                found = read[uid]
            elif (uid, gen) in self._finished:
                found = self._finished[(uid, gen)]
            else:  # deleted between the two reads
                continue
            if finished:
                keep[(uid, gen)] = found
            out.append(found)
        self._finished = keep
        return out
