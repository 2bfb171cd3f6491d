"""The adapters between store records and the planners' views lose nothing and keep store-only fields."""

from __future__ import annotations

import dataclasses
import datetime as dt

from miniorch.controllers import podrecords
from miniorch.nodes.records import ContainerState
from miniorch.reconcile import revisions
from miniorch.reconcile.views import ContainerView, PodView
from miniorch.store.records import PodPhase, PodRecord, RevisionRecord

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
STORE_ONLY = {"log_tail", "log_timestamped", "container_removed", "resource_version"}


def _record(**fields: object) -> PodRecord:
    base = PodRecord("u1", "pi-a", "default", "Job", "pi", "j1", "node0", created_at=T0, labels={"a": "b"})
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def test_a_pod_view_has_every_record_field_but_the_stored_log() -> None:
    """A field added to PodRecord must be added to PodView too (or named here as store-only)."""
    record_fields = {f.name for f in dataclasses.fields(PodRecord)}
    assert {f.name for f in dataclasses.fields(PodView)} == record_fields - STORE_ONLY


def test_view_and_back_keeps_the_record_and_its_log() -> None:
    """merge(record, view_of(record)) is the record itself; record_of gives a pod without a log."""
    rec = _record(phase=PodPhase.SUCCEEDED, exit_code=0, log_tail="out\n", container_removed=True)
    assert podrecords.merge(rec, podrecords.view_of(rec)) is rec
    fresh = podrecords.record_of(podrecords.view_of(rec))
    assert fresh == dataclasses.replace(rec, log_tail="", container_removed=False)


def test_merge_takes_the_planners_changes_and_the_given_store_fields() -> None:
    """Only what the pure function changed, plus store-only fields the caller sets."""
    rec = _record(log_tail="old\n")
    view = dataclasses.replace(podrecords.view_of(rec), phase=PodPhase.FAILED, reason="Error")
    merged = podrecords.merge(rec, view, container_removed=True)
    assert (merged.phase, merged.reason, merged.log_tail, merged.container_removed) == (
        PodPhase.FAILED,
        "Error",
        "old\n",
        True,
    )


def test_the_record_level_bookkeeping_sets_what_the_store_keeps() -> None:
    """gone() notes the container removed; on_exit() stores the log with its timestamp flag."""
    rec = _record(phase=PodPhase.RUNNING, started_at=T0)
    assert podrecords.gone(rec, T0).container_removed
    state = ContainerState("c", "pi-a", "node0", {}, "exited", exit_code=0, started_at=T0, finished_at=T0)
    done = podrecords.on_exit(rec, state, "Never", "line\n", T0, timestamped=True)
    assert (done.phase, done.log_tail, done.log_timestamped, done.container_removed) == (
        PodPhase.SUCCEEDED,
        "line\n",
        True,
        False,
    )


def test_container_and_revision_views_carry_what_the_planners_read() -> None:
    """ContainerView keeps status, exit and health; a Revision round-trips to the stored record."""
    state = ContainerState("c", "pi-a", "node0", {"x": "y"}, "running", health="healthy", restart_count=2)
    assert podrecords.container_view(state) == ContainerView("running", health="healthy", restart_count=2)
    rec = RevisionRecord("ds-uid", "ds-abc", "abc", 3, {"spec": {}}, "why", created_at=T0)
    assert podrecords.revision_record(podrecords.revision_view(rec)) == rec
    assert isinstance(podrecords.revision_view(rec), revisions.Revision)
