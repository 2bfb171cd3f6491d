"""Pure pod bookkeeping: what an observed container means for a pod record.

Given a pod record and what its node said about the container (running,
exited with a code, missing, node unreachable), return the new record. The
controller fetches logs and exit codes first; nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from miniorch.nodes.records import ContainerState
from miniorch.store.records import PodPhase, PodRecord

NODE_LOST = "NodeLost"
EVICTED = "Evicted"
#: Reasons of pods we stopped ourselves; they never count as failed attempts.
NOT_COUNTED = frozenset(
    {
        NODE_LOST,
        EVICTED,
        "JobDeleted",
        "BackoffLimitExceeded",
        "Suspended",
        "ScaledDown",
        "CompletionsReached",
        "DeadlineExceeded",
        "DuplicateIndex",
    }
)


class Missing(enum.Enum):
    """What to do about a pod whose container is not on its node."""

    WAIT = "wait"  # an operation is in flight, or the node cannot be asked
    CREATE = "create"  # never created (e.g. the daemon died in between): create it now
    GONE = "gone"  # it existed and vanished: the pod has failed


def on_running(pod: PodRecord, state: ContainerState, now: dt.datetime) -> PodRecord:
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
    pod: PodRecord,
    state: ContainerState,
    restart_policy: str,
    log_tail: str,
    now: dt.datetime,
    timestamped: bool = False,
) -> PodRecord:
    """Record one finished run: success, a counted failure, or our own stop.

    `timestamped`: each line of `log_tail` starts with Docker's timestamp (what `ctl logs
    --timestamps/--since/--previous` need once the container is gone)."""
    code = state.exit_code if state.exit_code is not None else 255
    finished = state.finished_at or now
    base = dataclasses.replace(
        _run_started(pod, state.started_at),
        exit_code=code,
        log_tail=log_tail,
        log_timestamped=timestamped,
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
    if restart_policy == "OnFailure":
        return dataclasses.replace(failed, phase=PodPhase.RUNNING, restart_pending=True, finished_at=None)
    return dataclasses.replace(failed, phase=PodPhase.FAILED)


def on_missing(pod: PodRecord, node_reachable: bool, in_flight: bool) -> Missing:
    if in_flight or not node_reachable or pod.node is None:
        return Missing.WAIT
    if pod.phase is PodPhase.PENDING and not pod.deletion_reason:
        return Missing.CREATE
    return Missing.GONE


def gone(pod: PodRecord, now: dt.datetime) -> PodRecord:
    """The container vanished: our own stop finished, or someone removed it."""
    if pod.deletion_reason:
        return dataclasses.replace(
            pod,
            phase=PodPhase.FAILED,
            reason=pod.deletion_reason,
            finished_at=pod.finished_at or now,
            restart_pending=False,
            container_removed=True,
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
        container_removed=True,
    )


def unreachable(pod: PodRecord) -> PodRecord:
    if pod.phase is PodPhase.UNKNOWN or pod.phase.terminal:
        return pod
    return dataclasses.replace(
        pod, phase=PodPhase.UNKNOWN, reason="NodeUnreachable", message=f"node {pod.node!r} is not answering"
    )


def lost(pod: PodRecord, now: dt.datetime) -> PodRecord:
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


def start_failed(pod: PodRecord, reason: str, message: str, now: dt.datetime) -> PodRecord:
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


def on_docker_restart(pod: PodRecord, state: ContainerState) -> PodRecord:
    """A restartPolicy Always container that Docker restarted in place: take its restart count."""
    return dataclasses.replace(
        _run_started(pod, state.started_at),
        restart_count=state.restart_count,
        last_exit_code=state.exit_code if state.exit_code is not None else pod.last_exit_code,
        last_failure_at=state.finished_at or pod.last_failure_at,
    )


def _run_started(pod: PodRecord, started: dt.datetime | None) -> PodRecord:
    """Note a run's start (Docker's StartedAt); a new run makes the recorded one the previous run."""
    if started is None or started == pod.run_started_at:
        return pod
    return dataclasses.replace(pod, run_started_at=started, previous_run_started_at=pod.run_started_at)
