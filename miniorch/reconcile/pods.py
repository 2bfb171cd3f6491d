"""Pure pod bookkeeping: what an observed container means for a pod record.

Given a pod view and what its node said about the container (running,
exited with a code, missing, node unreachable), return the new view. The
controller fetches logs and exit codes first; nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from miniorch.reconcile.views import READY_SINCE, ContainerView, PodPhase, PodView
from miniorch.spec.enums import EventReason, RestartPolicy

NODE_LOST = "NodeLost"
EVICTED = "Evicted"
#: Reasons of pods we stopped ourselves; they never count as failed attempts.
NOT_COUNTED = frozenset(
    {
        NODE_LOST,
        EVICTED,
        "JobDeleted",
        EventReason.BACKOFF_LIMIT_EXCEEDED,
        EventReason.SUSPENDED,
        "ScaledDown",
        "CompletionsReached",
        EventReason.DEADLINE_EXCEEDED,
        "DuplicateIndex",
    }
)


class Missing(enum.Enum):
    """What to do about a pod whose container is not on its node."""

    WAIT = "wait"  # an operation is in flight, or the node cannot be asked
    CREATE = "create"  # never created (e.g. the daemon died in between): create it now
    GONE = "gone"  # it existed and vanished: the pod has failed


def on_running(pod: PodView, state: ContainerView, now: dt.datetime) -> PodView:
    if pod.phase is PodPhase.RUNNING and not pod.restart_pending:
        return pod
    return dataclasses.replace(
        pod,
        phase=PodPhase.RUNNING,
        reason="",
        message="",
        restart_pending=False,
        started_at=pod.started_at or state.started_at or now,
    )


def on_exit(
    pod: PodView,
    state: ContainerView,
    restart_policy: str,
    now: dt.datetime,
) -> PodView:
    """Record one finished run: success, a counted failure, or our own stop (its log is the caller's)."""
    code = state.exit_code if state.exit_code is not None else 255
    finished = state.finished_at or now
    base = dataclasses.replace(
        _run_started(pod, state.started_at),
        exit_code=code,
        started_at=pod.started_at or state.started_at,
        finished_at=finished,
    )
    if pod.deletion_reason:
        return dataclasses.replace(base, phase=PodPhase.FAILED, reason=pod.deletion_reason, restart_pending=False)
    if code == 0:
        return dataclasses.replace(
            base, phase=PodPhase.SUCCEEDED, reason="Completed", message="", restart_pending=False
        )
    reason = "OOMKilled" if state.oom_killed else "Error"
    message = f"container exited with code {code}" + (f": {state.error}" if state.error else "")
    failed = dataclasses.replace(
        base, reason=reason, message=message, failures=pod.failures + 1, last_failure_at=finished, last_exit_code=code
    )
    if restart_policy == RestartPolicy.ON_FAILURE:
        return dataclasses.replace(failed, phase=PodPhase.RUNNING, restart_pending=True, finished_at=None)
    return dataclasses.replace(failed, phase=PodPhase.FAILED)


def on_missing(pod: PodView, node_reachable: bool, in_flight: bool) -> Missing:
    """A live pod whose container its node's listing lacks. One never started (Pending, or made
    Unknown by its node's silence before its container was made) is created; any other is gone."""
    if in_flight or not node_reachable or pod.node is None:
        return Missing.WAIT
    never_started = pod.phase is PodPhase.PENDING or (pod.phase is PodPhase.UNKNOWN and pod.started_at is None)
    if never_started and not pod.deletion_reason:
        return Missing.CREATE
    return Missing.GONE


def gone(pod: PodView, now: dt.datetime) -> PodView:
    """The container vanished: our own stop finished, or someone removed it (the caller notes it removed)."""
    if pod.deletion_reason:
        return dataclasses.replace(
            pod,
            phase=PodPhase.FAILED,
            reason=pod.deletion_reason,
            finished_at=pod.finished_at or now,
            restart_pending=False,
        )
    return dataclasses.replace(
        pod,
        phase=PodPhase.FAILED,
        reason="ContainerRemoved",
        message="its container was removed outside miniorch",
        failures=pod.failures + 1,
        finished_at=now,
        last_failure_at=now,
        restart_pending=False,
    )


def unreachable(pod: PodView) -> PodView:
    if pod.phase is PodPhase.UNKNOWN or pod.phase.terminal:
        return pod
    return dataclasses.replace(
        pod, phase=PodPhase.UNKNOWN, reason="NodeUnreachable", message=f"node {pod.node!r} is not answering"
    )


def lost(pod: PodView, now: dt.datetime) -> PodView:
    """Its node is NotReady: the pod is lost and replaced; it never counts as a failed attempt.

    The container stays to be fenced (stopped, removed, unread) if the node returns.
    """
    return dataclasses.replace(
        pod,
        phase=PodPhase.FAILED,
        reason=NODE_LOST,
        message=f"node {pod.node!r} is NotReady; the pod was replaced",
        finished_at=now,
        restart_pending=False,
    )


def start_failed(pod: PodView, reason: str, message: str, now: dt.datetime) -> PodView:
    """The container could not be created or started: a failed attempt (e.g. ErrImagePull)."""
    return dataclasses.replace(
        pod,
        phase=PodPhase.FAILED,
        reason=reason,
        message=message,
        failures=pod.failures + 1,
        finished_at=now,
        last_failure_at=now,
        restart_pending=False,
    )


def on_docker_restart(pod: PodView, state: ContainerView) -> PodView:
    """A restartPolicy Always container that Docker restarted in place: take its restart count.
    Its run ended, and its readiness with it: the planner marks the new run ready once it is seen
    running (healthy, with a probe), as the kubelet does. (Inspected while Docker was still
    restarting it, a pod kept its mark and looked ready before its process had run again.)"""
    return dataclasses.replace(
        _run_started(pod, state.started_at),
        annotations={k: v for k, v in pod.annotations.items() if k != READY_SINCE},
        restart_count=state.restart_count,
        last_exit_code=state.exit_code if state.exit_code is not None else pod.last_exit_code,
        last_failure_at=state.finished_at or pod.last_failure_at,
    )


def _run_started(pod: PodView, started: dt.datetime | None) -> PodView:
    """Note a run's start (Docker's StartedAt); a new run makes the recorded one the previous run."""
    if started is None or started == pod.run_started_at:
        return pod
    return dataclasses.replace(pod, run_started_at=started, previous_run_started_at=pod.run_started_at)
