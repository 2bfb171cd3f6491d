"""Pure retry policy for containers the engine refused to create or start.

A pod whose container could not be created (`CreateContainerError`) or started
(`RunContainerError`) stays Pending with that reason and is tried again after
1 s, 2 s, 4 s, 8 s (doubling, capped); the 5th refused try fails the pod, which
then counts as a failed run (backoffLimit, DaemonSet per-node backoff). Engines
that do not answer at all are not refused tries: that is node loss handling.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from miniorch.reconcile import backoff
from miniorch.reconcile.views import PodPhase, PodView


class StartError(enum.StrEnum):
    """Kubernetes' waiting reasons for a container that could not be made to run."""

    CREATE = "CreateContainerError"
    RUN = "RunContainerError"


START_ERRORS = frozenset(StartError)


@dataclass(frozen=True)
class RetryPolicy:
    max_tries: int = 5  # refused tries before the pod fails
    initial_seconds: float = 1.0
    max_seconds: float = 30.0

    def delay(self, tries: int) -> float:
        """Seconds to wait after the `tries`-th refused try (1, 2, 4, ... capped)."""
        return backoff.delay_seconds(tries, self.initial_seconds, self.max_seconds)


DEFAULT = RetryPolicy()


@dataclass(frozen=True)
class Retry:
    """Keep the pod Pending; try again at `at`."""

    at: dt.datetime


@dataclass(frozen=True)
class GiveUp:
    """The pod fails: `tries` refused tries, the last with this message."""

    tries: int
    message: str


Decision = Retry | GiveUp


def decide(tries: int, message: str, now: dt.datetime, policy: RetryPolicy = DEFAULT) -> Decision:
    """After `tries` refused tries (the last one `now`): try again later, or give up."""
    if tries >= policy.max_tries:
        return GiveUp(tries, f"{message} (gave up after {tries} tries)")
    return Retry(now + dt.timedelta(seconds=policy.delay(tries)))


def retrying(pod: PodView) -> bool:
    """The pod is waiting to retry a refused create or start."""
    return not pod.phase.terminal and pod.reason in START_ERRORS and pod.start_attempts > 0


def next_try_at(pod: PodView, policy: RetryPolicy = DEFAULT) -> dt.datetime | None:
    """When the pod's container may be tried again, or None when nothing holds it back."""
    if not retrying(pod) or pod.last_attempt_at is None:
        return None
    return pod.last_attempt_at + dt.timedelta(seconds=policy.delay(pod.start_attempts))


def due(pod: PodView, now: dt.datetime, policy: RetryPolicy = DEFAULT) -> bool:
    """May the container be created or started now?"""
    at = next_try_at(pod, policy)
    return at is None or now >= at


def refused(
    pod: PodView, reason: StartError, message: str, now: dt.datetime, policy: RetryPolicy = DEFAULT
) -> tuple[PodView, Decision]:
    """Record one refused try: the pod waits with the reason, or has failed (a counted run)."""
    tries = pod.start_attempts + 1 if pod.reason in START_ERRORS else 1
    decision = decide(tries, message, now, policy)
    waiting = dataclasses.replace(pod, reason=reason.value, message=message, start_attempts=tries, last_attempt_at=now)
    if isinstance(decision, Retry):
        return waiting, decision
    failed = dataclasses.replace(
        waiting,
        phase=PodPhase.FAILED,
        message=decision.message,
        failures=pod.failures + 1,
        finished_at=now,
        last_failure_at=now,
        restart_pending=False,
    )
    return failed, decision


def event_message(pod: PodView, message: str) -> str:
    """The Warning event's text: the node and the engine's words (the same each try, so counted)."""
    return f"Error: node {pod.node!r}: {message}"


def last_refusal(pods: Sequence[PodView]) -> str:
    """The latest pod that failed because its container could not be made to run, as a clause
    for the Job's Failed condition ("" when none did)."""
    refused_pods = [p for p in pods if p.phase is PodPhase.FAILED and p.reason in START_ERRORS]
    if not refused_pods:
        return ""
    last = max(refused_pods, key=lambda p: p.last_failure_at or p.created_at)
    return f"; last failure: pod {last.name} on node {last.node}: {last.reason}: {last.message}"
