"""The Store contract: what every backend must do, one suite run against each of them.

Each test states one promise the controllers, the API and `ctl` rely on. The `backend`
fixture lists the backends (SQLite in a file; PostgreSQL in a cluster the session starts,
see tests/support/postgres.py): the same tests pass on both unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from miniorch.store.errors import StoreUnavailable
from miniorch.store.events import object_event
from miniorch.store.records import EventRecord, NodeOverrides, ObjectRecord, PodPhase, PodRecord, RevisionRecord
from miniorch.store.store import Store

T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)

OpenStore = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens Stores on one fresh database of the backend under test (each call a new Store)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database()
    else:
        url = f"sqlite:///{tmp_path / 'state.db'}"
    opened: list[Store] = []

    def open_store() -> Store:
        store = Store(url)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def store(backend: OpenStore) -> Store:
    return backend()


def obj(name: str, kind: str = "Job", namespace: str = "default", **kw: object) -> ObjectRecord:
    fields: dict[str, object] = {
        "uid": f"uid-{kind}-{namespace}-{name}",
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "manifest": {"spec": {"name": name}},
        "status": {},
        "created_at": T0,
    }
    fields.update(kw)
    return ObjectRecord(**fields)  # type: ignore[arg-type]


def pod(name: str, owner: ObjectRecord, **kw: object) -> PodRecord:
    fields: dict[str, object] = {
        "uid": f"pod-{name}",
        "name": name,
        "namespace": owner.namespace,
        "owner_kind": owner.kind,
        "owner_name": owner.name,
        "owner_uid": owner.uid,
        "node": "node0",
        "created_at": T0,
        "labels": {"job-name": owner.name},
    }
    fields.update(kw)
    return PodRecord(**fields)  # type: ignore[arg-type]


def event(owner: ObjectRecord, reason: str, at: dt.datetime, message: str = "m") -> EventRecord:
    return EventRecord(
        owner.namespace,
        owner.kind,
        owner.name,
        owner.uid,
        "Normal",
        reason,
        message,
        first_timestamp=at,
        last_timestamp=at,
    )


# -- objects ----------------------------------------------------------------------


def test_an_added_object_reads_back_equal_by_key_and_by_uid(store: Store) -> None:
    job = obj("pi", manifest={"spec": {"completions": 3}}, status={"active": 1})
    store.add_object(job)
    assert store.get_object("Job", "default", "pi") == job
    assert store.get_object_by_uid(job.uid) == job
    assert store.get_object("Job", "other", "pi") is None
    assert store.get_object("CronJob", "default", "pi") is None


def test_objects_list_by_namespace_then_name_and_filter_by_kind_and_namespace(store: Store) -> None:
    for o in [obj("b"), obj("a"), obj("c", namespace="alpha"), obj("ab", kind="DaemonSet")]:
        store.add_object(o)
    listed = [(o.kind, o.namespace, o.name) for o in store.list_objects()]
    assert listed == [
        ("Job", "alpha", "c"),
        ("Job", "default", "a"),
        ("DaemonSet", "default", "ab"),
        ("Job", "default", "b"),
    ]
    assert [o.name for o in store.list_objects(kind="Job", namespace="default")] == ["a", "b"]
    assert [o.kind for o in store.list_objects(kind="DaemonSet")] == ["DaemonSet"]


def test_an_object_key_is_taken_once_by_add_if_absent(store: Store) -> None:
    assert store.add_object_if_absent(obj("tick-1"))
    assert not store.add_object_if_absent(obj("tick-1", uid="another-uid"))
    assert [o.uid for o in store.list_objects()] == ["uid-Job-default-tick-1"]


def test_a_herds_jobs_statuses_and_events_are_written_together_each_once(store: Store) -> None:
    """One transaction each for a minute's Jobs of many CronJobs, their statuses and their events:
    a name taken (before or twice in the batch) is skipped, each write has its version and change."""
    a, b = obj("cj-a", kind="CronJob"), obj("cj-b", kind="CronJob")
    store.add_object(a)
    store.add_object(b)
    store.add_object(obj("taken"))
    start = store.resource_version()
    jobs = [obj("a-1"), obj("taken", uid="other"), obj("b-1"), obj("b-1", uid="twice")]
    assert store.add_objects_if_absent(jobs) == {"uid-Job-default-a-1", "uid-Job-default-b-1"}
    assert store.add_objects_if_absent([]) == set()
    assert sorted(o.name for o in store.list_objects("Job")) == ["a-1", "b-1", "taken"]
    assert store.get_object("Job", "default", "taken").uid == "uid-Job-default-taken"  # type: ignore[union-attr]
    store.save_statuses([(a.uid, {"active": ["a-1"]}), (b.uid, {"active": ["b-1"]}), ("gone-uid", {})])
    assert [o.status for o in store.list_objects("CronJob")] == [{"active": ["a-1"]}, {"active": ["b-1"]}]
    assert {o.uid for o in store.objects_to_reconcile(["CronJob"], set())} == {a.uid, b.uid}
    assert store.objects_to_reconcile(["CronJob"], set())[0].status == {"active": ["a-1"]}
    store.record_events([object_event(a, "Normal", "SuccessfulCreate", "Created job a-1", T0)] * 2)
    store.record_events([object_event(b, "Normal", "SuccessfulCreate", "Created job b-1", T0)])
    assert [(e.name, e.count) for e in store.list_events()] == [("cj-a", 2), ("cj-b", 1)]
    changes = [(c.kind, c.name, c.type) for c in store.changes_since(start, ["Job", "CronJob", "Event"])]
    assert changes[:4] == [
        ("Job", "a-1", "ADDED"),
        ("Job", "b-1", "ADDED"),
        ("CronJob", "cj-a", "MODIFIED"),
        ("CronJob", "cj-b", "MODIFIED"),
    ]
    assert [c[0] for c in changes[4:]] == ["Event"] * 3
    versions = [c.rv for c in store.changes_since(start, ["Job", "CronJob", "Event"])]
    assert versions == sorted(set(versions)), "each write its own version"


def test_owned_versions_list_what_objects_owned_does_and_follow_each_write(store: Store) -> None:
    cj = obj("nightly", kind="CronJob")
    store.add_object(cj)
    for i, name in enumerate(("n-1", "n-2")):
        store.add_object(
            obj(
                name,
                owner_kind="CronJob",
                owner_name="nightly",
                owner_uid=cj.uid,
                created_at=T0 + dt.timedelta(minutes=i),
            )
        )
    listed = store.owned_versions("CronJob")
    assert [(uid, owner) for uid, _, owner in listed] == [(o.uid, cj.uid) for o in store.objects_owned("CronJob")]
    assert [uid for uid, _, _ in listed] == ["uid-Job-default-n-1", "uid-Job-default-n-2"]
    store.save_status("uid-Job-default-n-1", {"succeeded": 1}, finished=True)
    assert store.owned_versions("CronJob")[0][1] > listed[0][1] and store.owned_versions("CronJob")[1] == listed[1]
    assert store.owned_versions("DaemonSet") == []


def test_a_new_manifest_keeps_the_status_the_controllers_wrote(store: Store) -> None:
    job = obj("pi", status={"succeeded": 2})
    store.add_object(job)
    store.save_manifest(job.uid, {"spec": {"parallelism": 4}}, generation=2, source="file:/x.yaml")
    got = store.get_object_by_uid(job.uid)
    assert got is not None
    assert (got.manifest, got.generation, got.source, got.status) == (
        {"spec": {"parallelism": 4}},
        2,
        "file:/x.yaml",
        {"succeeded": 2},
    )


def test_finished_objects_leave_the_reconcile_set_unless_they_own_live_pods(store: Store) -> None:
    running, done = obj("running"), obj("done")
    store.add_object(running)
    store.add_object(done)
    assert [o.name for o in store.objects_to_reconcile(["Job"], set())] == ["done", "running"]
    store.save_status(done.uid, {"succeeded": 1}, finished=True)
    assert [o.name for o in store.objects_to_reconcile(["Job"], set())] == ["running"]
    assert [o.name for o in store.objects_to_reconcile(["Job"], {done.uid})] == ["done", "running"]
    assert store.objects_to_reconcile(["DaemonSet"], set()) == []


def test_a_deleting_object_is_reconciled_even_when_finished(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)
    store.save_status(job.uid, {"succeeded": 1}, finished=True)
    store.mark_deleting(job.uid)
    [found] = store.objects_to_reconcile(["Job"], set())
    assert found.deleting and found.status == {"succeeded": 1}


def test_the_reconcile_set_follows_status_writes(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)
    store.objects_to_reconcile(["Job"], set())  # a long-lived reader: served from memory from now on
    store.save_status(job.uid, {"active": 2})
    [found] = store.objects_to_reconcile(["Job"], set())
    assert found.status == {"active": 2}


def test_objects_owned_lists_a_cronjobs_jobs_oldest_first(store: Store) -> None:
    cj = obj("nightly", kind="CronJob")
    store.add_object(cj)
    for i, minute in enumerate([30, 10, 20]):
        store.add_object(
            obj(
                f"nightly-{i}",
                owner_kind="CronJob",
                owner_name=cj.name,
                owner_uid=cj.uid,
                created_at=T0 + dt.timedelta(minutes=minute),
            )
        )
    store.add_object(obj("unowned"))
    assert [o.name for o in store.objects_owned("CronJob")] == ["nightly-1", "nightly-2", "nightly-0"]
    assert [o.name for o in store.objects_owned("CronJob", [cj.uid])] == ["nightly-1", "nightly-2", "nightly-0"]
    assert store.objects_owned("CronJob", ["nobody"]) == []


def test_newest_objects_counts_and_pages_newest_first(store: Store) -> None:
    """The dashboard's paged read: the count of matches, and one page of them newest first (by owner too)."""
    cj = obj("nightly", kind="CronJob")
    store.add_object(cj)
    for i, minute in enumerate([30, 10, 20, 40]):
        owner = {"owner_kind": "CronJob", "owner_name": cj.name, "owner_uid": cj.uid} if i < 3 else {}
        store.add_object(obj(f"job-{i}", created_at=T0 + dt.timedelta(minutes=minute), **owner))
    total, page = store.newest_objects("Job", limit=2)
    assert (total, [o.name for o in page]) == (4, ["job-3", "job-0"])
    total, page = store.newest_objects("Job", offset=2, limit=2)
    assert (total, [o.name for o in page]) == (4, ["job-2", "job-1"])
    total, page = store.newest_objects("Job", owner_uid=cj.uid, limit=10)
    assert (total, [o.name for o in page]) == (3, ["job-0", "job-2", "job-1"])
    assert store.newest_objects("Job", namespace="elsewhere") == (0, [])
    assert store.newest_objects("CronJob")[0] == 1


def test_object_index_lists_every_object_without_reading_manifests(store: Store) -> None:
    """The metrics' cheap read: (uid, kind, generation, finished) of every object, finished ones marked."""
    done, live = obj("done"), obj("live", kind="CronJob")
    for o in (done, live):
        store.add_object(o)
    store.save_status(done.uid, {"succeeded": 1}, finished=True)
    assert sorted(store.object_index()) == sorted([(done.uid, "Job", 1, True), (live.uid, "CronJob", 1, False)])


def test_deleting_an_object_forgets_its_pods_and_events_only(store: Store) -> None:
    gone, kept = obj("gone"), obj("kept")
    for o in (gone, kept):
        store.add_object(o)
        store.save_pod(pod(f"{o.name}-x", o))
        store.record_event(event(o, "SuccessfulCreate", T0))
    store.delete_object(gone.uid)
    assert store.get_object_by_uid(gone.uid) is None
    assert [p.name for p in store.list_pods()] == ["kept-x"]
    assert [e.name for e in store.list_events()] == ["kept"]
    assert store.pods_of(gone.uid, with_log=False) == []


def test_a_saved_object_replaces_manifest_status_and_flags_whole(store: Store) -> None:
    job = obj("pi", status={"active": 1})
    store.add_object(job)
    store.save_status(job.uid, {"succeeded": 1}, finished=True)
    saved = dataclasses.replace(job, manifest={"spec": {"completions": 2}}, status={"active": 2}, deleting=True)
    store.save_object(saved)
    assert store.get_object_by_uid(job.uid) == saved
    assert [o.name for o in store.objects_to_reconcile(["Job"], set())] == ["pi"]
    fresh = dataclasses.replace(obj("new"), generation=3)
    store.save_object(fresh)  # not stored yet: inserted
    assert store.get_object("Job", "default", "new") == fresh


def test_objects_by_uid_map_the_uids_found_and_skip_the_rest(store: Store) -> None:
    a, b = obj("a"), obj("b")
    store.add_object(a)
    store.add_object(b)
    assert store.objects_by_uid([a.uid, a.uid, b.uid, "nobody"]) == {a.uid: a, b.uid: b}
    assert store.objects_by_uid([]) == {}


def test_file_object_refs_name_file_sourced_objects_without_manifests(store: Store) -> None:
    store.add_object(obj("from-file", source="file:/etc/jobs.d/a.yaml"))
    store.add_object(obj("from-api"))
    [ref] = store.file_object_refs()
    assert (ref.name, ref.source, ref.deleting) == ("from-file", "file:/etc/jobs.d/a.yaml", False)


# -- pods -------------------------------------------------------------------------


def test_saved_pods_read_back_equal_and_update_in_place(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)
    p = pod("pi-abcde", job, annotations={"a": "b"}, cpu_request=0.5, memory_request=1 << 20)
    store.save_pod(p)
    assert store.get_pod("default", "pi-abcde") == p
    done = dataclasses.replace(p, phase=PodPhase.SUCCEEDED, exit_code=0, finished_at=T0 + dt.timedelta(seconds=3))
    store.save_pods([done])
    assert store.get_pod_by_uid(p.uid) == done
    assert len(store.list_pods()) == 1


def test_a_log_tail_is_never_cleared_by_saving_a_pod_read_without_it(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)
    store.save_pod(pod("pi-1", job, log_tail="3.14159\n"))
    [planned] = store.pods_of(job.uid, with_log=False)
    assert planned.log_tail == ""
    store.save_pod(dataclasses.replace(planned, phase=PodPhase.SUCCEEDED))
    got = store.get_pod("default", "pi-1")
    assert got is not None and got.log_tail == "3.14159\n" and got.phase is PodPhase.SUCCEEDED


def test_an_owners_pods_come_oldest_first(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)
    store.save_pods([pod(f"pi-{i}", job, created_at=T0 + dt.timedelta(seconds=10 - i)) for i in range(3)])
    assert [p.name for p in store.pods_of(job.uid)] == ["pi-2", "pi-1", "pi-0"]
    assert [p.name for p in store.pods_of(job.uid, with_log=False)] == ["pi-2", "pi-1", "pi-0"]


def test_pod_changes_give_all_pods_first_then_those_saved_since(store: Store) -> None:
    """The Job planner's feed: all of an owner's pods (no logs, oldest first), then each pod saved
    since once (the newest copy); a deleted pod makes the next call give them all again."""
    job = obj("pi")
    store.add_object(job)
    store.save_pods([pod(f"pi-{i}", job, created_at=T0 + dt.timedelta(seconds=10 - i)) for i in range(3)])
    full, pods = store.pod_changes(job.uid)
    assert full and [p.name for p in pods] == ["pi-2", "pi-1", "pi-0"]
    assert store.pod_changes(job.uid) == (False, [])
    [first] = [p for p in pods if p.name == "pi-0"]
    store.save_pod(dataclasses.replace(first, phase=PodPhase.RUNNING))
    store.save_pod(dataclasses.replace(first, phase=PodPhase.SUCCEEDED, log_tail="done\n"))
    store.save_pod(pod("pi-3", job))
    full, pods = store.pod_changes(job.uid)
    assert not full and [(p.name, p.phase, p.log_tail) for p in pods] == [
        ("pi-0", PodPhase.SUCCEEDED, ""),
        ("pi-3", PodPhase.PENDING, ""),
    ]
    store.delete_pods([first.uid])
    full, pods = store.pod_changes(job.uid)
    assert full and [p.name for p in pods] == ["pi-3", "pi-2", "pi-1"]


def test_forgetting_an_owners_pods_drops_only_its_copies_in_memory(store: Store) -> None:
    """forget_pods_of: the owner's next pod_changes starts again from the database (nothing is
    deleted), and every later save is still followed."""
    job = obj("pi")
    store.add_object(job)
    store.save_pods([pod(f"pi-{i}", job) for i in range(2)])
    assert store.pod_changes(job.uid)[0] and store.pod_changes(job.uid) == (False, [])
    store.forget_pods_of(job.uid)
    full, pods = store.pod_changes(job.uid)
    assert full and sorted(p.name for p in pods) == ["pi-0", "pi-1"]
    store.save_pod(pod("pi-2", job))
    assert [p.name for p in store.pod_changes(job.uid)[1]] == ["pi-2"]


def test_pods_filter_by_namespace_and_every_given_label(store: Store) -> None:
    a, b = obj("a"), obj("b", namespace="etl")
    store.add_object(a)
    store.add_object(b)
    store.save_pods(
        [
            pod("a-1", a, labels={"job-name": "a", "tier": "x"}),
            pod("a-2", a, labels={"job-name": "a"}),
            pod("b-1", b, labels={"job-name": "b", "tier": "x"}),
        ]
    )
    assert [p.name for p in store.list_pods(labels={"tier": "x"})] == ["a-1", "b-1"]
    assert [p.name for p in store.list_pods(labels={"tier": "x", "job-name": "a"})] == ["a-1"]
    assert [p.name for p in store.list_pods(namespace="etl")] == ["b-1"]
    assert all(p.log_tail == "" for p in store.list_pods(with_log=False))


def test_pod_versions_list_what_list_pods_does_and_pods_by_uid_fetch_them(store: Store) -> None:
    a, b = obj("a"), obj("b", namespace="etl")
    store.add_object(a)
    store.add_object(b)
    store.save_pods([pod("a-2", a), pod("b-1", b, labels={"job-name": "b"}), pod("a-1", a)])
    listed = store.pod_versions()
    assert [uid for uid, _, _ in listed] == [p.uid for p in store.list_pods()]
    assert listed[0][2] == a.uid, "with its owner"
    assert [uid for uid, _, _ in store.pod_versions("etl", {"job-name": "b"})] == [store.list_pods("etl")[0].uid]
    first = store.pod_versions()[0]
    one = store.pods_by_uid([first[0]])[0]
    store.save_pod(dataclasses.replace(one, phase=PodPhase.SUCCEEDED))
    assert store.pod_versions()[0][1] > first[1], "a write gives the pod a newer version"
    found = store.pods_by_uid([uid for uid, _, _ in listed] + ["no-such-uid"])
    assert sorted(p.uid for p in found) == sorted(uid for uid, _, _ in listed)
    assert all(p.log_tail == "" for p in found)


def test_object_versions_list_what_list_objects_does_and_follow_each_write(store: Store) -> None:
    b, a, other = obj("b"), obj("a"), obj("c", namespace="etl")
    for o in (b, a, other):
        store.add_object(o)
    listed = store.object_versions("Job", "default")
    assert [uid for uid, _ in listed] == [o.uid for o in store.list_objects("Job", "default")] == [a.uid, b.uid]
    assert [uid for uid, _ in store.object_versions("Job")] == [a.uid, b.uid, other.uid]
    assert store.object_versions("CronJob") == []
    store.save_status(a.uid, {"succeeded": 1}, finished=True)
    newer = dict(store.object_versions("Job"))
    assert newer[a.uid] > dict(listed)[a.uid] and newer[b.uid] == dict(listed)[b.uid]
    assert store.versions_of([a.uid, other.uid, "no-such-uid"]) == {a.uid: newer[a.uid], other.uid: newer[other.uid]}
    assert store.versions_of([]) == {}


def test_live_pods_are_those_whose_container_may_still_exist(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)
    store.save_pods([pod("pi-run", job, phase=PodPhase.RUNNING), pod("pi-done", job, phase=PodPhase.SUCCEEDED)])
    assert {p.name for p in store.live_pods()} == {"pi-run", "pi-done"}
    done = store.get_pod("default", "pi-done")
    assert done is not None
    store.save_pod(dataclasses.replace(done, container_removed=True))
    assert [p.name for p in store.live_pods()] == ["pi-run"]
    store.delete_pods(["pod-pi-run"])
    assert store.live_pods() == []
    assert [p.name for p in store.list_pods()] == ["pi-done"]


# -- events -----------------------------------------------------------------------


def test_a_repeated_event_is_counted_not_duplicated(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)
    store.record_event(event(job, "BackOff", T0))
    store.record_event(event(job, "BackOff", T0 + dt.timedelta(seconds=5)))
    store.record_event(event(job, "BackOff", T0 + dt.timedelta(seconds=6), message="other"))
    first, second = store.list_events()
    assert (first.count, first.first_timestamp, first.last_timestamp) == (2, T0, T0 + dt.timedelta(seconds=5))
    assert (second.count, second.message) == (1, "other")


def test_an_event_that_replaces_another_takes_its_count_and_its_place(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)
    store.record_event(event(job, "Failed", T0, message="veth1 gone"))
    store.record_event(event(job, "Failed", T0 + dt.timedelta(seconds=2), message="veth2 gone"), "veth1 gone")
    store.record_event(event(job, "Failed", T0 + dt.timedelta(seconds=3), message="veth3 gone"), "no such words")
    first, second = store.list_events(uid=job.uid)
    assert (first.message, first.count, first.last_timestamp) == ("veth2 gone", 2, T0 + dt.timedelta(seconds=2))
    assert (second.message, second.count) == ("veth3 gone", 1)


def test_events_filter_by_namespace_and_object(store: Store) -> None:
    a, b = obj("a"), obj("b", namespace="etl")
    store.add_object(a)
    store.add_object(b)
    store.record_object_event(a, "Normal", "SuccessfulCreate", "Created pod: a-1", T0)
    store.record_object_event(b, "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit", T0)
    assert [e.name for e in store.list_events(namespace="etl")] == ["b"]
    [only] = store.list_events(uid=a.uid)
    assert (only.kind, only.type, only.reason, only.message) == (
        "Job",
        "Normal",
        "SuccessfulCreate",
        "Created pod: a-1",
    )


# -- identity, nodes, revisions ---------------------------------------------------


def test_the_cluster_identity_is_made_once_and_kept(backend: OpenStore) -> None:
    first = backend().cluster_id()
    assert first == backend().cluster_id() and len(first) == 12


def test_node_overrides_are_kept_across_restarts_and_reads_follow_writes(backend: OpenStore) -> None:
    store = backend()
    assert store.node_overrides() == {}
    store.save_node_overrides(NodeOverrides("node0", {"disk": "nvme", "old": None}, unschedulable=True))
    assert store.node_overrides()["node0"].unschedulable
    store.save_node_overrides(NodeOverrides("node0", {"disk": "ssd"}, unschedulable=False))
    assert store.node_overrides() == {"node0": NodeOverrides("node0", {"disk": "ssd"}, False)}
    assert backend().node_overrides() == {"node0": NodeOverrides("node0", {"disk": "ssd"}, False)}


def test_revisions_come_in_revision_order_and_go_by_hash(store: Store) -> None:
    ds = obj("agent", kind="DaemonSet")
    store.add_object(ds)
    revs = [RevisionRecord(ds.uid, f"agent-h{n}", f"h{n}", n, {"n": n}, created_at=T0) for n in (2, 1, 3)]
    store.save_revisions(ds.uid, revs)
    assert [r.revision for r in store.revisions_of(ds.uid)] == [1, 2, 3]
    store.save_revisions(ds.uid, [dataclasses.replace(revs[1], revision=4)], delete_hashes=["h2"])
    assert [(r.hash, r.revision) for r in store.revisions_of(ds.uid)] == [("h3", 3), ("h1", 4)]
    store.delete_revisions_of(ds.uid)
    assert store.revisions_of(ds.uid) == []


# -- leader lease, caches, lifetime -----------------------------------------------


def test_the_lease_is_taken_by_one_daemon_and_seen_by_another(backend: OpenStore) -> None:
    one, two = backend(), backend()
    mine = one.leases.acquire("daemon-1", "127.0.0.1:1", 30)
    assert mine is not None and mine.mine and mine.epoch == 1
    theirs = two.leases.acquire("daemon-2", "127.0.0.1:2", 30)
    assert theirs is not None and not theirs.mine and theirs.holder == "daemon-1"
    current = two.leases.current()
    assert current is not None and (current.holder, current.address) == ("daemon-1", "127.0.0.1:1")


def test_fenced_writes_are_refused_but_reads_and_the_lease_go_on(backend: OpenStore) -> None:
    """A leader whose lease lapsed writes nothing (StoreUnavailable) until the fence lifts; it still
    reads, and the lease itself stays writable."""
    store, fenced = backend(), [False]
    a = obj("a")
    store.add_object(a)
    store.fence_writes(lambda: not fenced[0])
    fenced[0] = True
    with pytest.raises(StoreUnavailable, match="lost its leader lease"):
        store.save_pod(pod("a-1", a))
    with pytest.raises(StoreUnavailable):
        store.add_object(obj("b"))
    assert store.list_pods() == [] and [o.name for o in store.list_objects()] == ["a"]
    lease_state = store.leases.acquire("daemon-1", "127.0.0.1:1", 30)
    assert lease_state is not None and lease_state.mine
    fenced[0] = False
    store.save_pod(pod("a-1", a))
    assert [p.name for p in store.list_pods()] == ["a-1"]


def test_forget_cached_reads_what_another_daemon_wrote_meanwhile(backend: OpenStore) -> None:
    """A new leader starts clean: copies kept in memory before another daemon's writes are dropped."""
    store, other = backend(), backend()
    job = obj("pi")
    store.add_object(job)
    store.save_pod(pod("pi-1", job))
    assert [p.name for p in store.live_pods()] == ["pi-1"]  # loaded: served from memory from now on
    assert [p.name for p in store.pods_of(job.uid, with_log=False)] == ["pi-1"]
    assert [o.status for o in store.objects_to_reconcile(["Job"], set())] == [{}]
    assert store.node_overrides() == {}
    other.save_pod(pod("pi-2", job))
    other.save_status(job.uid, {"active": 2})
    other.save_node_overrides(NodeOverrides("node0", {}, unschedulable=True))
    store.forget_cached()
    assert sorted(p.name for p in store.live_pods()) == ["pi-1", "pi-2"]
    assert [p.name for p in store.pods_of(job.uid, with_log=False)] == ["pi-1", "pi-2"]
    assert [o.status for o in store.objects_to_reconcile(["Job"], set())] == [{"active": 2}]
    assert store.node_overrides()["node0"].unschedulable


def test_a_store_opened_on_a_database_reports_its_schema_and_closes(backend: OpenStore) -> None:
    first = backend()
    assert first.schema.before is None and first.schema.changed
    first.close()
    again = backend()
    assert again.schema.before == again.schema.after and not again.schema.changed


_SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "db",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"data":{"pw":"c2VrcjN0LXZhbHVl"}}'},
    },
    "type": "Opaque",
    "data": {"pw": "c2VrcjN0LXZhbHVl"},  # "sekr3t-value"
}


def test_secrets_are_sealed_in_the_database_and_open_on_every_read(backend: OpenStore) -> None:
    """With the key, a Secret reads back as written (add, save, save_manifest); its row holds no value."""
    from cryptography.fernet import Fernet

    from miniorch.store import secretbox
    from miniorch.store.rows import OBJECTS

    store = backend()
    box = secretbox.SecretBox(Fernet.generate_key())
    store.use_secrets(box)
    secret = obj("db", kind="Secret", manifest=_SECRET)
    store.add_object(secret)
    assert store.get_object("Secret", "default", "db") == secret
    assert store.list_objects("Secret")[0].manifest == _SECRET
    store.save_manifest(secret.uid, {**_SECRET, "data": {"pw": "bmV3LXZhbHVl"}}, 2, "api")
    assert store.objects_by_uid([secret.uid])[secret.uid].manifest["data"] == {"pw": "bmV3LXZhbHVl"}
    store.save_object(dataclasses.replace(secret, manifest=_SECRET))
    with store._engine.connect() as conn:  # noqa: SLF001 - the row itself, as a copied database shows it
        raw = str(conn.execute(OBJECTS.select().where(OBJECTS.c.kind == "Secret")).one()._mapping["manifest"])
    assert "c2VrcjN0LXZhbHVl" not in raw and "sekr3t" not in raw and secretbox.SEALED in raw


def test_a_store_without_the_key_refuses_secrets_and_a_wrong_key_is_refused(backend: OpenStore) -> None:
    """No key: writing a Secret is refused and a read shows it sealed; another key does not open the database."""
    from cryptography.fernet import Fernet

    from miniorch.store import secretbox

    store = backend()
    store.use_secrets(secretbox.SecretBox(Fernet.generate_key(), "/k/right.key"))
    store.add_object(obj("db", kind="Secret", manifest=_SECRET))
    keyless = backend()
    with pytest.raises(secretbox.SecretsLocked):
        keyless.add_object(obj("other", kind="Secret", manifest=_SECRET))
    sealed = keyless.get_object("Secret", "default", "db")
    assert sealed is not None and "data" not in sealed.manifest
    with pytest.raises(secretbox.SecretsKeyError, match="secrets.key_file /k/wrong.key does not open"):
        backend().use_secrets(secretbox.SecretBox(Fernet.generate_key(), "/k/wrong.key"))


def test_the_contract_covers_every_method_of_the_facade() -> None:
    """A method added to the Store without a contract test fails here."""
    source = Path(__file__).read_text()
    public = [name for name in vars(Store) if not name.startswith("_")]
    assert len(public) >= 34
    assert [name for name in public if f".{name}" not in source] == []


# -- durability and threads -------------------------------------------------------


def test_everything_written_is_read_by_a_fresh_store(backend: OpenStore) -> None:
    store = backend()
    job = obj("pi")
    store.add_object(job)
    store.save_status(job.uid, {"succeeded": 1}, finished=True)
    store.save_pod(pod("pi-1", job, phase=PodPhase.SUCCEEDED, exit_code=0, log_tail="ok\n"))
    store.record_object_event(job, "Normal", "Completed", "Job completed", T0)
    fresh = backend()
    got = fresh.get_object_by_uid(job.uid)
    assert got is not None and got.status == {"succeeded": 1}
    assert fresh.objects_to_reconcile(["Job"], set()) == []
    [p] = fresh.pods_of(job.uid)
    assert (p.exit_code, p.log_tail) == (0, "ok\n")
    assert [e.reason for e in fresh.list_events()] == ["Completed"]


def test_writes_from_many_threads_all_land(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)

    def write(t: int) -> None:
        for i in range(20):
            store.save_pod(pod(f"pi-{t}-{i}", job))
            store.record_object_event(job, "Normal", "SuccessfulCreate", f"Created pod: pi-{t}-{i}", T0)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(store.list_pods()) == 80
    assert len(store.pods_of(job.uid, with_log=False)) == 80
    assert len(store.list_events()) == 80


# -- resourceVersion and the change log (the Kubernetes API's watch) ----------------
def test_every_write_takes_a_newer_resource_version_and_logs_the_change(store: Store) -> None:
    """Objects, pods, events and node rows carry the version of their last write; the log says what changed."""
    start = store.resource_version()
    job = obj("pi")
    store.add_object(job)
    store.save_status(job.uid, {"active": 1})
    store.save_pod(pod("pi-1", job))
    store.save_pod(dataclasses.replace(pod("pi-1", job), phase=PodPhase.SUCCEEDED))
    store.record_event(event(job, "Created", T0))
    store.save_node_overrides(NodeOverrides("node0", {"a": "b"}, True))
    store.delete_object(job.uid)  # its pod goes with it
    got = [(c.kind, c.name, c.type) for c in store.changes_since(start, ["Job", "Pod", "Event", "Node"])]
    assert got[:6] == [
        ("Job", "pi", "ADDED"),
        ("Job", "pi", "MODIFIED"),
        ("Pod", "pi-1", "ADDED"),
        ("Pod", "pi-1", "MODIFIED"),
        ("Event", got[4][1], "ADDED"),
        ("Node", "node0", "MODIFIED"),
    ]
    assert sorted(got[6:]) == [("Job", "pi", "DELETED"), ("Pod", "pi-1", "DELETED")]
    versions = [c.rv for c in store.changes_since(start, ["Job", "Pod", "Event", "Node"])]
    assert versions == sorted(set(versions)) and versions[-1] <= store.resource_version()
    assert [c.kind for c in store.changes_since(start, ["Pod"])] == ["Pod"] * 3


def test_a_read_object_carries_the_version_of_its_last_write(store: Store) -> None:
    job = obj("pi")
    store.add_object(job)
    first = store.get_object("Job", "default", "pi")
    store.save_manifest(job.uid, {"spec": {"parallelism": 2}}, 2, "api")
    second = store.get_object("Job", "default", "pi")
    assert first is not None and second is not None
    assert 0 < first.resource_version < second.resource_version == store.resource_version()
    store.save_pod(pod("pi-1", job))
    found = store.get_pod("default", "pi-1")
    assert found is not None and found.resource_version == store.resource_version()


def test_a_watch_from_a_version_the_log_dropped_is_gone(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from miniorch.store import versions

    monkeypatch.setattr(versions, "LOG_SIZE", 5)
    monkeypatch.setattr(versions, "_PRUNE_EVERY", 2)
    start = store.resource_version()
    job = obj("pi")
    store.add_object(job)
    for n in range(12):
        store.save_status(job.uid, {"active": n})
    with pytest.raises(versions.Gone):
        store.changes_since(start, ["Job"])
    recent = store.changes_since(store.resource_version() - 3, ["Job"])
    assert [c.rv for c in recent] == [
        store.resource_version() - 2,
        store.resource_version() - 1,
        store.resource_version(),
    ]


def test_a_writer_frozen_mid_transaction_does_not_hold_the_next_leaders_writes(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a transaction left open (its daemon SIGSTOPped while inside it) holds the version
    counter's row lock; the server ends it after IDLE_IN_TRANSACTION_MS, and the other store writes."""
    from miniorch.store import connect, versions
    from miniorch.store.errors import StoreUnavailable

    monkeypatch.setattr(connect, "IDLE_IN_TRANSACTION_MS", 500)
    url = request.getfixturevalue("postgres").create_database()
    frozen, leader = Store(url), Store(url)
    try:
        conn = frozen._engine.connect()
        txn = conn.begin()
        versions.reserve(conn, 1)  # the row lock every write takes, and then nothing: frozen
        done = threading.Event()

        def write() -> None:
            leader.add_object(obj("after"))
            done.set()

        threading.Thread(target=write, daemon=True).start()
        assert done.wait(10), "the leader's write waited on the frozen transaction"
        assert [o.name for o in leader.list_objects()] == ["after"]
        with pytest.raises(StoreUnavailable, match="idle-in-transaction"):
            txn.commit()  # the frozen daemon, awake: its transaction is gone (an outage to it)
        conn.close()
    finally:
        frozen.close()
        leader.close()
