"""Pure backoff maths for failed Job pods."""

from __future__ import annotations

import datetime as dt

import pytest

from miniorch.reconcile.backoff import delay_seconds, job_backoff_ready_at
from miniorch.reconcile.views import PodPhase, PodView

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def at(s: float) -> dt.datetime:
    """T0 plus s seconds."""
    return T0 + dt.timedelta(seconds=s)


def pod(
    n: int, phase: PodPhase, failures: int = 0, last_failure: float | None = None, finished: float | None = None
) -> PodView:
    """A Job pod with the given failure history (times in seconds after T0)."""
    return PodView(
        uid=f"u{n}",
        name=f"p{n}",
        namespace="default",
        owner_kind="Job",
        owner_name="j",
        owner_uid="j-uid",
        node="node0",
        phase=phase,
        failures=failures,
        created_at=T0,
        last_failure_at=None if last_failure is None else at(last_failure),
        finished_at=None if finished is None else at(finished),
    )


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (-1, 0.0),
        (0, 0.0),
        (1, 10.0),
        (2, 20.0),
        (3, 40.0),
        (4, 80.0),
        (5, 160.0),
        (6, 320.0),
        (7, 360.0),
        (50, 360.0),
        (10_000, 360.0),
    ],
)
def test_delay_doubles_from_initial_up_to_the_cap(failures: int, expected: float) -> None:
    """delay(n) = 10s * 2^(n-1) capped at 360s, and 0 without failures."""
    assert delay_seconds(failures, 10.0, 360.0) == expected


def test_delay_uses_the_given_initial_and_cap() -> None:
    """The initial delay and cap come from the caller (config timing)."""
    assert [delay_seconds(n, 0.5, 3.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_no_failures_means_no_backoff() -> None:
    """Without failed runs nothing holds the next pod back."""
    pods = [pod(1, PodPhase.RUNNING), pod(2, PodPhase.SUCCEEDED, finished=5)]
    assert job_backoff_ready_at(pods, 10.0, 360.0) is None
    assert job_backoff_ready_at([], 10.0, 360.0) is None


def test_ready_at_counts_all_failures_and_starts_at_the_latest() -> None:
    """Three failed runs since the last success: 40s after the most recent failure."""
    pods = [
        pod(1, PodPhase.FAILED, failures=1, last_failure=0),
        pod(2, PodPhase.FAILED, failures=1, last_failure=30),
        pod(3, PodPhase.FAILED, failures=1, last_failure=12),
    ]
    assert job_backoff_ready_at(pods, 10.0, 360.0) == at(70)


def test_onfailure_pod_failures_each_count() -> None:
    """A restarted-in-place pod with two failures counts two: 20s after its last failure."""
    pods = [pod(1, PodPhase.RUNNING, failures=2, last_failure=100)]
    assert job_backoff_ready_at(pods, 10.0, 360.0) == at(120)


def test_only_failures_since_the_last_success_count() -> None:
    """A success resets the count: failures before it are ignored, later ones start from 10s again."""
    pods = [
        pod(1, PodPhase.FAILED, failures=1, last_failure=0),
        pod(2, PodPhase.FAILED, failures=1, last_failure=20),
        pod(3, PodPhase.SUCCEEDED, finished=50),
        pod(4, PodPhase.FAILED, failures=1, last_failure=60),
    ]
    assert job_backoff_ready_at(pods, 10.0, 360.0) == at(70)


def test_failures_all_before_the_last_success_give_no_backoff() -> None:
    """When every failure happened before the latest success, no backoff applies."""
    pods = [pod(1, PodPhase.FAILED, failures=1, last_failure=0), pod(2, PodPhase.SUCCEEDED, finished=5)]
    assert job_backoff_ready_at(pods, 10.0, 360.0) is None


def test_pods_stopped_by_miniorch_do_not_add_backoff() -> None:
    """A failed pod with zero counted failures (NodeLost, Suspended...) causes no delay."""
    pods = [pod(1, PodPhase.FAILED, failures=0, finished=3)]
    assert job_backoff_ready_at(pods, 10.0, 360.0) is None
