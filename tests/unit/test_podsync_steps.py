"""PodSync's per-pod decisions: the step for a listed container, and the owner kind's policy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from miniorch.controllers import podpolicy
from miniorch.controllers.podsync import SyncStep, container_step, listed_before_start
from miniorch.nodes import records as nr
from miniorch.store.records import PodPhase, PodRecord


def pod(phase: PodPhase = PodPhase.RUNNING, **fields: Any) -> PodRecord:
    return PodRecord(
        uid="u",
        name="p",
        namespace="default",
        owner_kind="Job",
        owner_name="j",
        owner_uid="j1",
        node="node0",
        phase=phase,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        **fields,
    )


def container(status: str) -> nr.ContainerState:
    return nr.ContainerState(id="c", name="p", node="node0", labels={}, status=status)


@pytest.mark.parametrize(
    ("record", "status", "died", "step"),
    [
        (pod(), "exited", False, SyncStep.SETTLE),
        (pod(), "running", True, SyncStep.SETTLE),  # its `die` came before the listing caught up
        (pod(restart_pending=True), "exited", False, SyncStep.NOTHING),  # recorded, waiting for its restart
        (pod(restart_pending=True), "running", True, SyncStep.RUNNING),  # restarted since that `die`
        (pod(restart_pending=True, deletion_reason="Evicted"), "exited", False, SyncStep.SETTLE),
        (pod(PodPhase.PENDING), "created", False, SyncStep.LAUNCH),  # created, never started
        (pod(PodPhase.PENDING, deletion_reason="JobDeleted"), "created", False, SyncStep.NOTHING),
        (pod(), "created", False, SyncStep.NOTHING),
        (pod(), "running", False, SyncStep.RUNNING),
        (pod(), "restarting", False, SyncStep.RUNNING),
        (pod(), "removing", False, SyncStep.NOTHING),
        (pod(), "dead", False, SyncStep.SETTLE),
    ],
)
def test_step_for_a_listed_container(record: PodRecord, status: str, died: bool, step: SyncStep) -> None:
    assert container_step(record, container(status), died) is step


@pytest.mark.parametrize(
    ("kind", "lost", "evicted"),
    [("Job", True, True), ("DaemonSet", False, False), ("SomethingNew", False, False)],
)
def test_owner_policies_of_todays_kinds(kind: str, lost: bool, evicted: bool) -> None:
    policy = podpolicy.of(podpolicy.BY_KIND, kind)
    assert (policy.lost_with_node, policy.evicted_by_drain) == (lost, evicted)


@pytest.mark.parametrize(
    ("phase", "started", "too_new"),
    [
        (PodPhase.RUNNING, 1, True),  # started after the listing was asked for: it may not show yet
        (PodPhase.RUNNING, 0, True),
        (PodPhase.RUNNING, -1, False),  # started before: a listing without it means it is gone
        (PodPhase.PENDING, None, False),
        (PodPhase.SUCCEEDED, 1, False),
    ],
)
def test_a_container_started_after_the_listing_was_asked_for_is_not_taken_for_removed(
    phase: PodPhase, started: int | None, too_new: bool
) -> None:
    listed_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    at = None if started is None else listed_at + dt.timedelta(seconds=started)
    pod = PodRecord("u", "p", "default", "Job", "j", "ju", "node0", created_at=listed_at, phase=phase, started_at=at)
    assert listed_before_start(pod, listed_at) is too_new
