"""`delete_pod`: what deleting one pod records, for each state the pod may be in."""

from __future__ import annotations

import datetime as dt

import pytest

from miniorch.controllers import poddelete
from miniorch.controllers.objects import NotFound
from miniorch.store.records import PodPhase, PodRecord
from miniorch.store.store import Store

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _pod(store: Store, name: str, **kw: object) -> PodRecord:
    fields: dict[str, object] = dict(
        uid=f"u-{name}",
        name=name,
        namespace="default",
        owner_kind="Job",
        owner_name="j",
        owner_uid="o",
        node="node0",
        phase=PodPhase.RUNNING,
    )
    fields.update(kw)
    pod = PodRecord(**fields, created_at=NOW)  # type: ignore[arg-type]
    store.save_pod(pod)
    return pod


def test_a_running_pod_is_marked_for_its_stop(store: Store) -> None:
    """Its container is stopped by the next pass: the pod keeps running until then, marked Deleted."""
    _pod(store, "a")
    out = poddelete.delete_pod(store, "default", "a")
    saved = store.get_pod("default", "a")
    assert out == saved and saved is not None
    assert (saved.phase, saved.deletion_reason) == (PodPhase.RUNNING, poddelete.DELETED)


def test_an_unplaced_pod_finishes_at_once_and_a_finished_one_is_forgotten(store: Store) -> None:
    _pod(store, "pending", node=None, phase=PodPhase.PENDING)
    done = poddelete.delete_pod(store, "default", "pending")
    assert (done.phase, done.reason, done.container_removed) == (PodPhase.FAILED, "Deleted", True)
    assert done.failures == 0  # a deletion is not a failed run
    poddelete.delete_pod(store, "default", "pending")
    assert store.get_pod("default", "pending") is None


def test_a_missing_pod_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match='pods "nope" not found'):
        poddelete.delete_pod(store, "default", "nope")
