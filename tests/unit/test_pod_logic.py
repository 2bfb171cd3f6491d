"""Pure pod bookkeeping: what an observed container state means for a pod record."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from miniorch.controllers import podrecords as pod_logic
from miniorch.nodes.records import ContainerState
from miniorch.reconcile.views import READY_SINCE
from miniorch.store.records import PodPhase, PodRecord

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
STARTED = T0 + dt.timedelta(seconds=1)
FINISHED = T0 + dt.timedelta(seconds=9)
NOW = T0 + dt.timedelta(seconds=10)


def make_pod(phase: PodPhase = PodPhase.RUNNING, node: str | None = "node0", **fields: object) -> PodRecord:
    """A Job pod on node0, started at STARTED."""
    return PodRecord(
        uid="u1",
        name="pi-abc",
        namespace="default",
        owner_kind="Job",
        owner_name="pi",
        owner_uid="j-uid",
        node=node,
        phase=phase,
        created_at=T0,
        started_at=STARTED if phase is not PodPhase.PENDING else None,
        **fields,  # type: ignore[arg-type]
    )


def exited(
    code: int | None,
    oom: bool = False,
    error: str = "",
    finished: dt.datetime | None = FINISHED,
    started: dt.datetime | None = STARTED,
) -> ContainerState:
    """The pod's container, exited."""
    return ContainerState(
        id="c1",
        name="pi-abc",
        node="node0",
        labels={},
        status="exited",
        exit_code=code,
        oom_killed=oom,
        error=error,
        started_at=started,
        finished_at=finished,
        inspected=True,
    )


def running_state(started: dt.datetime | None = STARTED) -> ContainerState:
    """The pod's container, running."""
    return ContainerState(id="c1", name="pi-abc", node="node0", labels={}, status="running", started_at=started)


# --- on_exit ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["Never", "OnFailure"])
def test_exit_zero_succeeds(policy: str) -> None:
    """Exit code 0 makes the pod Succeeded (reason Completed) without counting a failure."""
    pod = pod_logic.on_exit(make_pod(), exited(0), policy, "done\n", NOW)
    assert (pod.phase, pod.reason, pod.message) == (PodPhase.SUCCEEDED, "Completed", "")
    assert (pod.exit_code, pod.failures, pod.restart_pending) == (0, 0, False)
    assert (pod.started_at, pod.finished_at, pod.log_tail) == (STARTED, FINISHED, "done\n")
    assert pod.last_failure_at is None


def test_success_after_onfailure_restarts_keeps_the_failure_count() -> None:
    """A pod that failed twice then exited 0 is Succeeded and still remembers its 2 failures."""
    pod = make_pod(failures=2, last_failure_at=T0, last_exit_code=3)
    done = pod_logic.on_exit(pod, exited(0), "OnFailure", "", NOW)
    assert (done.phase, done.failures, done.last_exit_code) == (PodPhase.SUCCEEDED, 2, 3)


def test_nonzero_exit_with_never_fails_and_counts() -> None:
    """Non-zero exit with restartPolicy Never: Failed, reason Error, one more failure stamped at finish time."""
    pod = pod_logic.on_exit(make_pod(), exited(3), "Never", "boom", NOW)
    assert (pod.phase, pod.reason) == (PodPhase.FAILED, "Error")
    assert pod.message == "container exited with code 3"
    assert (pod.exit_code, pod.last_exit_code, pod.failures) == (3, 3, 1)
    assert (pod.last_failure_at, pod.finished_at) == (FINISHED, FINISHED)
    assert pod.restart_pending is False


def test_oom_kill_is_reported_as_oomkilled() -> None:
    """An OOM-killed container gives reason OOMKilled and counts as a failure."""
    pod = pod_logic.on_exit(make_pod(), exited(137, oom=True), "Never", "", NOW)
    assert (pod.phase, pod.reason, pod.exit_code, pod.failures) == (PodPhase.FAILED, "OOMKilled", 137, 1)


def test_docker_error_text_is_appended_to_the_message() -> None:
    """Docker's error string is kept in the pod message after the exit code."""
    pod = pod_logic.on_exit(make_pod(), exited(127, error="exec: not found"), "Never", "", NOW)
    assert pod.message == "container exited with code 127: exec: not found"


def test_nonzero_exit_with_onfailure_stays_running_with_restart_pending() -> None:
    """With OnFailure a failed run keeps the pod Running, awaiting a restart, and counts the failure."""
    pod = pod_logic.on_exit(make_pod(failures=1), exited(2), "OnFailure", "", NOW)
    assert (pod.phase, pod.restart_pending, pod.reason) == (PodPhase.RUNNING, True, "Error")
    assert (pod.failures, pod.last_exit_code, pod.last_failure_at) == (2, 2, FINISHED)
    assert pod.finished_at is None
    assert pod.active


@pytest.mark.parametrize("policy", ["Never", "OnFailure"])
@pytest.mark.parametrize("code", [0, 137, 1])
def test_exit_after_our_own_stop_uses_deletion_reason_and_does_not_count(policy: str, code: int) -> None:
    """A container we stopped (deletion_reason set) ends Failed with that reason, failures unchanged."""
    pod = make_pod(deletion_reason="Suspended", failures=1, restart_pending=True)
    done = pod_logic.on_exit(pod, exited(code), policy, "", NOW)
    assert (done.phase, done.reason, done.failures) == (PodPhase.FAILED, "Suspended", 1)
    assert done.restart_pending is False
    assert done.exit_code == code
    assert not done.active and not done.terminating


def test_unknown_exit_code_counts_as_255() -> None:
    """A container with no exit code recorded is treated as having exited 255."""
    pod = pod_logic.on_exit(make_pod(), exited(None), "Never", "", NOW)
    assert (pod.phase, pod.exit_code, pod.failures) == (PodPhase.FAILED, 255, 1)


def test_missing_finish_time_falls_back_to_now() -> None:
    """When Docker gives no finish time, `now` is used for finished_at and last_failure_at."""
    pod = pod_logic.on_exit(make_pod(), exited(1, finished=None), "Never", "", NOW)
    assert (pod.finished_at, pod.last_failure_at) == (NOW, NOW)


def test_start_time_comes_from_the_container_when_unknown() -> None:
    """A pod never seen running takes its start time from the exited container."""
    pod = pod_logic.on_exit(make_pod(PodPhase.PENDING), exited(0, started=STARTED), "Never", "", NOW)
    assert pod.started_at == STARTED


# --- on_running ------------------------------------------------------------------------------------------------


def test_running_container_moves_pending_pod_to_running() -> None:
    """A pending pod whose container runs becomes Running with the container's start time."""
    pod = pod_logic.on_running(make_pod(PodPhase.PENDING, reason="ContainerCreating"), running_state(), NOW)
    assert (pod.phase, pod.reason, pod.started_at) == (PodPhase.RUNNING, "", STARTED)


def test_running_container_clears_restart_pending_and_keeps_first_start() -> None:
    """A restarted OnFailure pod is Running again and keeps its original start time."""
    pod = make_pod(restart_pending=True, reason="Error", failures=1)
    later = running_state(started=NOW)
    updated = pod_logic.on_running(pod, later, NOW)
    assert (updated.phase, updated.restart_pending, updated.reason, updated.started_at) == (
        PodPhase.RUNNING,
        False,
        "",
        STARTED,
    )


def test_running_pod_seen_running_again_is_unchanged() -> None:
    """Seeing a running pod's container still running changes nothing."""
    pod = make_pod()
    assert pod_logic.on_running(pod, running_state(), NOW) is pod


def test_a_restart_in_place_takes_dockers_count_and_ends_the_runs_readiness() -> None:
    """Docker restarted the container itself (even if inspected while still `restarting`): the
    count is Docker's, the old run becomes the last state, and the readiness mark goes with it
    (the planner marks the new run once it is seen running); other annotations stay."""
    marked = {READY_SINCE: "2024-05-01T12:00:02.000000Z", "team": "infra"}
    pod = dataclasses.replace(make_pod(), owner_kind="DaemonSet", annotations=marked)
    restarting = dataclasses.replace(exited(3), status="restarting", restart_count=1)
    after = pod_logic.on_docker_restart(pod, restarting)
    assert (after.restart_count, after.last_exit_code, after.last_failure_at) == (1, 3, FINISHED)
    assert after.annotations == {"team": "infra"} and after.phase is PodPhase.RUNNING


# --- missing containers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "reachable", "in_flight", "expected"),
    [
        (make_pod(PodPhase.RUNNING), True, True, pod_logic.Missing.WAIT),
        (make_pod(PodPhase.RUNNING), False, False, pod_logic.Missing.WAIT),
        (make_pod(PodPhase.PENDING, node=None), True, False, pod_logic.Missing.WAIT),
        (make_pod(PodPhase.PENDING), True, False, pod_logic.Missing.CREATE),
        (make_pod(PodPhase.PENDING, deletion_reason="Suspended"), True, False, pod_logic.Missing.GONE),
        (make_pod(PodPhase.RUNNING), True, False, pod_logic.Missing.GONE),
        (make_pod(PodPhase.UNKNOWN), True, False, pod_logic.Missing.GONE),
        # Made Unknown by a silent node before its container was made: created, not "removed".
        (dataclasses.replace(make_pod(PodPhase.UNKNOWN), started_at=None), True, False, pod_logic.Missing.CREATE),
    ],
)
def test_on_missing_decides_wait_create_or_gone(
    pod: PodRecord, reachable: bool, in_flight: bool, expected: pod_logic.Missing
) -> None:
    """A missing container means wait (in flight, node unreachable, unscheduled), create (never made) or gone."""
    assert pod_logic.on_missing(pod, reachable, in_flight) is expected


def test_gone_after_our_own_stop_does_not_count() -> None:
    """A vanished container we were stopping ends the pod with the deletion reason and no new failure."""
    pod = make_pod(deletion_reason="NodeLost")
    done = pod_logic.gone(pod, NOW)
    assert (done.phase, done.reason, done.failures, done.finished_at) == (PodPhase.FAILED, "NodeLost", 0, NOW)
    assert done.container_removed and not done.restart_pending
    assert done.last_failure_at is None


def test_gone_keeps_an_earlier_finish_time() -> None:
    """If the pod already had a finish time, gone() keeps it."""
    pod = make_pod(deletion_reason="JobDeleted", finished_at=FINISHED)
    assert pod_logic.gone(pod, NOW).finished_at == FINISHED


def test_container_removed_behind_our_back_is_a_counted_failure() -> None:
    """A container removed outside miniorch fails the pod (ContainerRemoved) and counts against backoffLimit."""
    done = pod_logic.gone(make_pod(failures=1, restart_pending=True), NOW)
    assert (done.phase, done.reason, done.failures) == (PodPhase.FAILED, "ContainerRemoved", 2)
    assert (done.finished_at, done.last_failure_at) == (NOW, NOW)
    assert "outside miniorch" in done.message
    assert done.container_removed and not done.restart_pending


# --- unreachable nodes and start failures ----------------------------------------------------------------------


@pytest.mark.parametrize("phase", [PodPhase.PENDING, PodPhase.RUNNING])
def test_pod_on_unreachable_node_becomes_unknown(phase: PodPhase) -> None:
    """An active pod whose node stops answering is Unknown with reason NodeUnreachable naming the node."""
    pod = pod_logic.unreachable(make_pod(phase))
    assert (pod.phase, pod.reason) == (PodPhase.UNKNOWN, "NodeUnreachable")
    assert "'node0'" in pod.message
    assert pod.failures == 0


@pytest.mark.parametrize("phase", [PodPhase.SUCCEEDED, PodPhase.FAILED, PodPhase.UNKNOWN])
def test_finished_or_unknown_pod_is_untouched_by_unreachable(phase: PodPhase) -> None:
    """Terminal and already-Unknown pods stay as they are when their node is unreachable."""
    pod = make_pod(phase, reason="Whatever")
    assert pod_logic.unreachable(pod) is pod


def test_start_failure_is_a_counted_failed_attempt() -> None:
    """A container that could not be created (e.g. ErrImagePull) fails the pod and counts."""
    pod = make_pod(PodPhase.PENDING, restart_pending=True)
    done = pod_logic.start_failed(pod, "ErrImagePull", "image 'nope' not found", NOW)
    assert (done.phase, done.reason, done.message) == (PodPhase.FAILED, "ErrImagePull", "image 'nope' not found")
    assert (done.failures, done.finished_at, done.last_failure_at, done.restart_pending) == (1, NOW, NOW, False)


def test_not_counted_reasons_cover_every_stop_miniorch_makes() -> None:
    """Reasons the Job planner uses for DeletePod never count as failures."""
    for reason in ("Suspended", "ScaledDown", "CompletionsReached", "BackoffLimitExceeded", "NodeLost", "Evicted"):
        assert reason in pod_logic.NOT_COUNTED
    assert dataclasses.replace(make_pod(), deletion_reason="Evicted").terminating
