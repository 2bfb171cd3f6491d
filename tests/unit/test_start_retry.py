"""The pure retry policy for containers the engine refused to create or start."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from support import planning

from miniorch.controllers.podrecords import record_of
from miniorch.reconcile import job as job_mod
from miniorch.reconcile import startretry
from miniorch.reconcile.actions import CreatePod, RestartPod
from miniorch.reconcile.startretry import GiveUp, Retry, StartError
from miniorch.reconcile.views import PodPhase, PodView

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
MSG = "start p: failed to create endpoint p on network bridge: could not find bridge docker0"


def at(s: float) -> dt.datetime:
    """T0 plus s seconds."""
    return T0 + dt.timedelta(seconds=s)


def pending(**fields: object) -> PodView:
    """A Job pod bound to node2, not started yet."""
    return dataclasses.replace(
        PodView(
            uid="u1",
            name="p",
            namespace="default",
            owner_kind="Job",
            owner_name="j",
            owner_uid="j-uid",
            node="node2",
            created_at=T0,
        ),
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("tries", "expected"),
    [
        (1, Retry(at(1))),
        (2, Retry(at(2))),
        (3, Retry(at(4))),
        (4, Retry(at(8))),
        (5, GiveUp(5, f"{MSG} (gave up after 5 tries)")),
        (9, GiveUp(9, f"{MSG} (gave up after 9 tries)")),
    ],
)
def test_a_refused_try_is_retried_after_1s_doubling_and_the_fifth_gives_up(tries: int, expected: object) -> None:
    """After try n the next waits 2^(n-1) s; the 5th refused try fails the pod."""
    assert startretry.decide(tries, MSG, T0) == expected


@pytest.mark.parametrize(
    ("policy", "tries", "expected"),
    [
        (startretry.RetryPolicy(max_tries=3), 3, GiveUp(3, f"{MSG} (gave up after 3 tries)")),
        (startretry.RetryPolicy(max_tries=10, initial_seconds=2, max_seconds=5), 4, Retry(at(5))),
        (startretry.RetryPolicy(max_tries=1), 1, GiveUp(1, f"{MSG} (gave up after 1 tries)")),
    ],
)
def test_the_policy_bounds_tries_and_caps_the_delay(
    policy: startretry.RetryPolicy, tries: int, expected: object
) -> None:
    """max_tries ends the retries; the delay never exceeds max_seconds."""
    assert startretry.decide(tries, MSG, T0, policy) == expected


def test_a_first_refusal_keeps_the_pod_pending_with_the_reason_and_engine_message() -> None:
    """Pending, CreateContainerError, the engine's words, one try recorded; not a failed run yet."""
    pod, decision = startretry.refused(pending(), StartError.CREATE, MSG, T0)
    assert (pod.phase, pod.reason, pod.message) == (PodPhase.PENDING, "CreateContainerError", MSG)
    assert (pod.start_attempts, pod.last_attempt_at, pod.failures) == (1, T0, 0)
    assert decision == Retry(at(1))


def test_refusals_count_up_and_the_last_fails_the_pod_as_a_counted_run() -> None:
    """Five refusals in a row: the fifth leaves the pod Failed, counted once, naming the tries."""
    pod = pending()
    decisions = []
    for n in range(5):
        pod, decision = startretry.refused(pod, StartError.RUN, MSG, at(n))
        decisions.append(decision)
    assert [type(d) for d in decisions] == [Retry, Retry, Retry, Retry, GiveUp]
    assert (pod.phase, pod.reason, pod.failures, pod.start_attempts) == (PodPhase.FAILED, "RunContainerError", 1, 5)
    assert pod.message == f"{MSG} (gave up after 5 tries)"
    assert (pod.finished_at, pod.last_failure_at) == (at(4), at(4))


def test_a_refusal_after_another_reason_starts_counting_afresh() -> None:
    """A pod that crashed (reason Error) and whose restart is refused: that is try 1, not try n+1."""
    crashed = pending(phase=PodPhase.RUNNING, reason="Error", restart_pending=True, start_attempts=4)
    pod, decision = startretry.refused(crashed, StartError.RUN, MSG, T0)
    assert (pod.start_attempts, pod.restart_pending, decision) == (1, True, Retry(at(1)))


@pytest.mark.parametrize(
    ("pod", "now", "due", "next_at"),
    [
        (pending(), T0, True, None),  # never refused
        (pending(reason="CreateContainerError", start_attempts=1, last_attempt_at=T0), at(0.5), False, at(1)),
        (pending(reason="CreateContainerError", start_attempts=1, last_attempt_at=T0), at(1), True, at(1)),
        (pending(reason="RunContainerError", start_attempts=3, last_attempt_at=T0), at(3.9), False, at(4)),
        (pending(reason="RunContainerError", start_attempts=3, last_attempt_at=T0), at(4), True, at(4)),
        # attempts left over from before a successful start or another reason hold nothing back
        (pending(reason="Unschedulable", start_attempts=3, last_attempt_at=T0), T0, True, None),
        (
            pending(phase=PodPhase.FAILED, reason="RunContainerError", start_attempts=5, last_attempt_at=T0),
            T0,
            True,
            None,
        ),
    ],
)
def test_a_refused_pod_is_due_for_its_next_try_only_after_its_backoff(
    pod: PodView, now: dt.datetime, due: bool, next_at: dt.datetime | None
) -> None:
    """`due` holds a refused pod back until last try + delay(tries); others are always due."""
    assert (startretry.due(pod, now), startretry.next_try_at(pod)) == (due, next_at)


def test_the_event_message_names_the_node_and_the_engine_message() -> None:
    """Error: node 'node2': <engine message>; the same text each try, so the store counts it."""
    assert startretry.event_message(pending(), MSG) == f"Error: node 'node2': {MSG}"


def _job(backoff_limit: int = 1, restart: str = "Never") -> job_mod.JobParams:
    return job_mod.JobParams(
        uid="j-uid", namespace="default", name="j", backoff_limit=backoff_limit, restart_policy=restart
    )


def test_a_job_whose_pods_gave_up_fails_with_backoff_limit_exceeded_naming_the_refusal() -> None:
    """backoffLimit 1, two pods refused to the end: Failed, BackoffLimitExceeded, message names pod, node, reason."""
    gave_up = [
        dataclasses.replace(
            pending(uid=f"u{i}", name=f"j-{i}", created_at=planning.NOW - dt.timedelta(seconds=60 - i)),
            phase=PodPhase.FAILED,
            reason="RunContainerError",
            message=f"{MSG} (gave up after 5 tries)",
            failures=1,
            last_failure_at=planning.NOW - dt.timedelta(seconds=30 - i),
        )
        for i in range(2)
    ]
    plan = planning.plan(_job(), gave_up)
    failed = next(c for c in plan.status.conditions if c.type == "Failed")
    assert failed.reason == "BackoffLimitExceeded"
    assert failed.message == (
        "Job has reached the specified backoff limit; last failure: pod j-1 on node node2: "
        f"RunContainerError: {MSG} (gave up after 5 tries)"
    )
    assert plan.status.failed == 2


def test_a_job_pod_waiting_for_its_next_try_is_neither_replaced_nor_counted() -> None:
    """A Pending pod with CreateContainerError is active: no second pod, failed 0, Job not finished."""
    waiting = pending(reason="CreateContainerError", message=MSG, start_attempts=2, last_attempt_at=planning.NOW)
    plan = planning.plan(_job(backoff_limit=0), [waiting])
    assert not [a for a in plan.actions if isinstance(a, CreatePod)]
    assert (plan.status.active, plan.status.failed, plan.status.finished) == (1, 0, False)


def test_an_on_failure_restart_the_engine_refused_waits_for_its_backoff() -> None:
    """OnFailure: a restart refused 2 s ago after 2 tries is not restarted before 2 s, and the plan wakes then."""
    refused = pending(
        phase=PodPhase.RUNNING,
        restart_pending=True,
        failures=1,
        reason="RunContainerError",
        start_attempts=2,
        last_attempt_at=planning.NOW - dt.timedelta(seconds=1),
        last_failure_at=planning.NOW - dt.timedelta(seconds=100),
    )
    job = _job(backoff_limit=3, restart="OnFailure")
    early = planning.plan(job, [refused])
    assert not [a for a in early.actions if isinstance(a, RestartPod)]
    assert early.wake_at == planning.NOW + dt.timedelta(seconds=1)
    later = planning.plan(job, [refused], now=planning.NOW + dt.timedelta(seconds=1))
    assert [a for a in later.actions if isinstance(a, RestartPod)] == [RestartPod("u1")]


@pytest.mark.parametrize(
    ("pod", "status"),
    [
        (pending(reason="CreateContainerError", message=MSG, start_attempts=1), "CreateContainerError"),
        (
            pending(
                phase=PodPhase.RUNNING,
                restart_pending=True,
                exit_code=1,
                reason="RunContainerError",
                message=MSG,
                start_attempts=1,
            ),
            "RunContainerError",
        ),
        (
            pending(
                phase=PodPhase.RUNNING,
                restart_pending=True,
                exit_code=1,
                reason="Error",
                message="container exited with code 1",
            ),
            "CrashLoopBackOff",
        ),
        (pending(phase=PodPhase.FAILED, reason="RunContainerError", message=MSG, failures=1), "RunContainerError"),
    ],
)
def test_get_pods_shows_the_start_error_in_the_status_column(pod: PodView, status: str) -> None:
    """STATUS (as kubectl): the waiting reason of a refused pod, CrashLoopBackOff only for a crash."""
    from miniorch.api import render
    from miniorch.cli import output

    shown = render.pod(record_of(pod), None)
    assert output.pod_status(shown) == status
    if status != "CrashLoopBackOff":
        assert shown["status"]["message"] == MSG


def test_describe_job_lists_why_pods_that_did_not_run_are_waiting_or_failed() -> None:
    """Under the Pods table: refused pods with their reason and the engine message; pods that ran, not."""
    import datetime as dt_mod

    from miniorch.api import render
    from miniorch.cli import describe

    refused = render.pod(
        record_of(pending(name="j-a", reason="RunContainerError", message=MSG, start_attempts=2)), None
    )
    ran = render.pod(
        record_of(
            pending(
                name="j-b",
                phase=PodPhase.FAILED,
                reason="Error",
                exit_code=1,
                message="container exited with code 1",
                failures=1,
            )
        ),
        None,
    )
    text = describe._pods_table([refused, ran], dt_mod.datetime.now(dt_mod.UTC))
    assert f"  j-a: RunContainerError: {MSG}" in text.splitlines()
    assert "j-b: " not in text
