"""`/metrics`' object states: the same counts as deciding every object afresh, while a finished
object is read once, not at every scrape."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from miniorch import kinds
from miniorch.objectstates import ObjectStates
from miniorch.store.records import ObjectRecord
from miniorch.store.store import Store

T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
COMPLETE = {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}


def _job(name: str) -> ObjectRecord:
    return ObjectRecord(f"uid-{name}", "Job", "default", name, {"spec": {}}, {}, created_at=T0)


def _fresh(store: Store) -> Counter[tuple[str, str]]:
    return Counter((o.kind, kinds.get(o.kind).state(o.manifest, o.status)) for o in store.list_objects())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'state.db'}")


def test_states_equal_a_fresh_reading_and_finished_objects_are_read_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three finished Jobs and a running one: the second scrape reads only the running Job."""
    for name in ("a", "b", "c", "run"):
        store.add_object(_job(name))
    for name in ("a", "b", "c"):
        store.save_status(f"uid-{name}", COMPLETE, finished=True)
    states = ObjectStates(store)
    assert Counter(states()) == _fresh(store) == Counter({("Job", "complete"): 3, ("Job", "active"): 1})
    asked: list[list[str]] = []
    read = store.objects_by_uid

    def recording(uids: Iterable[str]) -> dict[str, ObjectRecord]:
        wanted = sorted(uids)
        asked.append(wanted)
        return read(wanted)

    monkeypatch.setattr(store, "objects_by_uid", recording)
    assert Counter(states()) == _fresh(store)
    assert asked == [["uid-run"]]


def test_a_deleted_finished_object_leaves_the_counts_and_a_finished_one_joins_them(store: Store) -> None:
    for name in ("a", "b"):
        store.add_object(_job(name))
    store.save_status("uid-a", COMPLETE, finished=True)
    states = ObjectStates(store)
    states()
    store.delete_object("uid-a")
    store.save_status("uid-b", COMPLETE, finished=True)
    assert Counter(states()) == _fresh(store) == Counter({("Job", "complete"): 1})


def test_the_first_scrape_reads_the_objects_a_chunk_at_a_time(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """20,000 finished Jobs held at once were 140 MB of the daemon's peak; a chunk at a time, same counts."""
    from miniorch import objectstates

    for name in "abcde":
        store.add_object(_job(name))
        store.save_status(f"uid-{name}", COMPLETE, finished=True)
    monkeypatch.setattr(objectstates, "CHUNK", 2)
    sizes: list[int] = []
    read = store.objects_by_uid

    def recording(uids: Iterable[str]) -> dict[str, ObjectRecord]:
        wanted = list(uids)
        sizes.append(len(wanted))
        return read(wanted)

    monkeypatch.setattr(store, "objects_by_uid", recording)
    assert Counter(ObjectStates(store)()) == _fresh(store) == Counter({("Job", "complete"): 5})
    assert sizes == [2, 2, 1]
