"""A store with a long history stays cheap to read: a Job's pods are found through an index
(never by reading every pod), and events expire an hour after they were last seen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from miniorch.store import events, pods
from miniorch.store.records import EventRecord, ObjectRecord, PodPhase, PodRecord
from miniorch.store.store import Store

T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database()
    else:
        url = f"sqlite:///{tmp_path / 'state.db'}"
    opened = Store(url)
    yield opened
    opened.close()


def _owner(kind: str, name: str) -> ObjectRecord:
    return ObjectRecord(f"uid-{kind}-{name}", kind, "default", name, {}, {}, created_at=T0)


def _pod(name: str, owner: ObjectRecord, labels: dict[str, str]) -> PodRecord:
    return PodRecord(
        f"pod-{name}",
        name,
        "default",
        owner.kind,
        owner.name,
        owner.uid,
        "node0",
        PodPhase.SUCCEEDED,
        created_at=T0,
        labels=labels,
        container_removed=True,
    )


def _event(name: str, at: dt.datetime) -> EventRecord:
    return EventRecord(
        "default",
        "CronJob",
        "cj",
        "uid-cj",
        "Normal",
        "SuccessfulCreate",
        f"Created job {name}",
        first_timestamp=at,
        last_timestamp=at,
    )


def test_a_job_name_selector_finds_the_jobs_pods_and_other_kinds_pods_carrying_the_label(store: Store) -> None:
    """job-name=a: Job a's pods, and a DaemonSet pod whose template set job-name=a; not Job b's."""
    a, b, ds = _owner("Job", "a"), _owner("Job", "b"), _owner("DaemonSet", "agent")
    store.save_pods(
        [
            _pod("a-1", a, {"job-name": "a"}),
            _pod("a-2", a, {"job-name": "a"}),
            _pod("b-1", b, {"job-name": "b"}),
            _pod("agent-1", ds, {"job-name": "a", "app": "agent"}),
            _pod("agent-2", ds, {"app": "agent"}),
        ]
    )
    found = store.list_pods(labels={"job-name": "a"}, with_log=False)
    assert sorted(p.name for p in found) == ["a-1", "a-2", "agent-1"]
    both = store.list_pods(labels={"batch.kubernetes.io/job-name": "b"}, with_log=False)
    assert both == []  # the narrowing never replaces the label check


@pytest.mark.parametrize("key", ["job-name", "batch.kubernetes.io/job-name"])
def test_a_job_name_selector_is_answered_from_the_owner_index_not_a_scan(tmp_path: Path, key: str) -> None:
    """SQLite's plan for the listing's query searches ix_pods_owner_kind_owner_name and scans nothing."""
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    query = pods._narrowed(pods._POD_NO_LOG.select(), {key: "a"})
    assert query is not None, "a job-name label narrows"
    with store._engine.connect() as conn:
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        plan = [row[-1] for row in conn.execute(sqlalchemy.text("EXPLAIN QUERY PLAN " + sql))]
    store.close()
    assert any("ix_pods_owner_kind_owner_name" in step for step in plan), plan
    assert not any(step.startswith("SCAN") for step in plan), plan


def test_events_expire_an_hour_after_they_were_last_seen(store: Store) -> None:
    """One event per CronJob run: a day of runs leaves the last hour's, not the day's."""
    for minute in range(0, 24 * 60, 10):
        store.record_event(_event(f"cj-{minute}", T0 + dt.timedelta(minutes=minute)))
    kept = store.list_events()
    newest = T0 + dt.timedelta(minutes=24 * 60 - 10)
    assert kept[-1].message == f"Created job cj-{24 * 60 - 10}"
    assert all(newest - e.last_timestamp <= events.EVENT_TTL + events.PRUNE_EVERY for e in kept)
    assert 6 <= len(kept) <= 8


def test_an_event_seen_again_stays_while_it_keeps_being_seen(store: Store) -> None:
    """The same event counted up every 10 minutes for hours: still there, with its count."""
    for minute in range(0, 180, 10):
        at = T0 + dt.timedelta(minutes=minute)
        store.record_event(_event("same", at))
        store.record_event(_event(f"other-{minute}", at))
    same = [e for e in store.list_events() if e.message == "Created job same"]
    assert len(same) == 1 and same[0].count == 18
