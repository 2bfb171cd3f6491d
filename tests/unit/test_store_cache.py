"""The Store's in-memory copies (live pods, pods being planned, objects to reconcile) never
drift from the database: after any sequence of writes, a Store opened fresh on the same
file reads exactly what the long-lived one serves from memory."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import random
from pathlib import Path

import pytest

from miniorch.store.records import EventRecord, ObjectRecord, PodPhase, PodRecord
from miniorch.store.store import Store

T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
KINDS = ["Job", "DaemonSet"]


def _job(i: int) -> ObjectRecord:
    return ObjectRecord(
        uid=f"o{i}",
        kind=KINDS[i % 2],
        namespace="default",
        name=f"obj-{i}",
        manifest={"spec": {"n": i}},
        status={},
        created_at=T0 + dt.timedelta(seconds=i),
    )


def _pod(i: int, owner: str, step: int) -> PodRecord:
    return PodRecord(
        uid=f"p{i}",
        name=f"pod-{i}",
        namespace="default",
        owner_kind="Job",
        owner_name=owner,
        owner_uid=owner,
        node="n0",
        created_at=T0 + dt.timedelta(seconds=step),
        labels={"job-name": owner},
    )


def _views(store: Store, owners: list[str]) -> tuple[object, ...]:
    live = sorted(store.live_pods(), key=lambda p: p.uid)
    owned = {o: store.pods_of(o, with_log=False) for o in owners}
    also = {p.owner_uid for p in live}
    objects = store.objects_to_reconcile(KINDS, also)
    return live, owned, objects


@pytest.mark.parametrize("seed", range(8))
def test_cached_reads_match_a_fresh_store_after_random_writes(tmp_path: Path, seed: int) -> None:
    """Pods created, run, finished (with logs), removed and deleted; objects added, given status,
    finished, marked deleting, re-specified and deleted: memory and database agree at every step."""
    rng = random.Random(seed)
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = Store(url)
    objects: dict[str, ObjectRecord] = {}
    pods: dict[str, PodRecord] = {}
    for i in range(4):
        obj = _job(i)
        store.add_object(obj)
        objects[obj.uid] = obj
    _views(store, list(objects))  # load every cache before the writes start
    followed: dict[str, dict[str, PodRecord]] = {}  # owner -> what its planner has from pod_changes
    next_pod = 0
    for step in range(120):
        op = rng.choice(["create", "advance", "advance", "delete_pods", "status", "manifest", "deleting", "object"])
        if op == "create" and objects:
            owner = rng.choice(sorted(objects))
            pod = _pod(next_pod, owner, step)
            next_pod += 1
            store.save_pod(pod)
            pods[pod.uid] = pod
        elif op == "advance" and pods:
            pod = pods[rng.choice(sorted(pods))]
            if pod.phase is PodPhase.PENDING:
                pod = dataclasses.replace(pod, phase=PodPhase.RUNNING, started_at=T0)
            elif pod.phase is PodPhase.RUNNING:
                pod = dataclasses.replace(pod, phase=PodPhase.SUCCEEDED, exit_code=0, log_tail=f"out {step}\n")
            else:
                pod = dataclasses.replace(pod, container_removed=True, log_tail="")  # saved without its log
            store.save_pod(pod)
            pods[pod.uid] = pod
        elif op == "delete_pods" and pods:
            gone = rng.sample(sorted(pods), k=min(2, len(pods)))
            store.delete_pods(gone)
            for uid in gone:
                pods.pop(uid)
        elif op == "status" and objects:
            uid = rng.choice(sorted(objects))
            store.save_status(uid, {"succeeded": step}, finished=rng.random() < 0.4)
        elif op == "manifest" and objects:
            uid = rng.choice(sorted(objects))
            store.save_manifest(uid, {"spec": {"n": step}}, generation=step, source="api")
        elif op == "deleting" and objects:
            store.mark_deleting(rng.choice(sorted(objects)))
        elif op == "object":
            if objects and rng.random() < 0.5:
                uid = rng.choice(sorted(objects))
                store.delete_object(uid)
                objects.pop(uid)
                pods = {k: p for k, p in pods.items() if p.owner_uid != uid}
            else:
                obj = _job(100 + step)
                store.add_object(obj)
                objects[obj.uid] = obj
        fresh = Store(url)
        owners = sorted(objects) + ["gone"]
        assert _views(store, owners) == _views(fresh, owners), f"step {step} ({op})"
        for owner in owners:
            _follow(store, owner, followed)
            assert list(followed[owner].values()) == fresh.pods_of(owner, with_log=False), f"step {step} ({op})"
        fresh.close()
    store.close()


def _follow(store: Store, owner: str, followed: dict[str, dict[str, PodRecord]]) -> None:
    """Apply what pod_changes hands back, as the Job planner does (in pods_of's order)."""
    full, changed = store.pod_changes(owner)
    known = {} if full else followed.get(owner, {})
    known.update((p.uid, p) for p in changed)
    followed[owner] = dict(sorted(known.items(), key=lambda item: item[1].created_at))


def test_a_log_saved_then_a_record_without_it_keeps_the_log_in_memory(tmp_path: Path) -> None:
    """live_pods from memory still carries the attempt's output after a save without it."""
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.live_pods()
    pod = dataclasses.replace(_pod(1, "o1", 0), phase=PodPhase.FAILED, exit_code=2, log_tail="boom\n")
    store.save_pod(pod)
    store.save_pod(dataclasses.replace(pod, log_tail="", deletion_reason="x"))
    assert [p.log_tail for p in store.live_pods()] == ["boom\n"]
    store.close()


def _event(obj: ObjectRecord, now: dt.datetime, message: str) -> EventRecord:
    return EventRecord(
        obj.namespace, obj.kind, obj.name, obj.uid, "Normal", "R", message, first_timestamp=now, last_timestamp=now
    )


@pytest.mark.parametrize("seed", range(4))
def test_events_aggregate_as_a_fresh_store_would_after_random_writes(tmp_path: Path, seed: int) -> None:
    """Events recorded, repeated, retold with a new message (`replaces`), batched with duplicates,
    expired and deleted with their object: a long-lived Store (its event ids kept in memory) leaves
    the same rows as a Store opened fresh for every write (which reads them from the database)."""
    rng = random.Random(seed)
    warm = Store(f"sqlite:///{tmp_path / 'warm.db'}")
    cold_url = f"sqlite:///{tmp_path / 'cold.db'}"
    objects = [_job(i) for i in range(3)]
    for store in (warm, Store(cold_url)):
        for obj in objects:
            store.add_object(obj)
    now = T0
    for step in range(80):
        now += dt.timedelta(minutes=rng.choice([0] * 20 + [1, 61]))  # an expiry drops the kept ids
        obj = rng.choice(objects)
        op = rng.choice(["one", "one", "retold", "batch", "delete"])

        ev = functools.partial(_event, obj, now)
        cold = Store(cold_url)
        for store in (warm, cold):
            if op == "one":
                store.record_event(ev(f"m{step % 4}"))
            elif op == "retold":
                store.record_event(ev(f"m{step % 3}"), replaces=f"m{(step + 1) % 3}")
            elif op == "batch":
                store.record_events([ev("m0"), ev("m1"), ev("m0")])
            elif step % 4 == 0:  # now and then: the object and its events go
                store.delete_object(obj.uid)
                store.add_object(obj)
        assert warm.list_events() == cold.list_events(), f"step {step} ({op})"
        cold.close()
    warm.close()
