"""Pure Job planning: plan_job turns (job, pods, nodes, now) into actions and status."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from support.planning import NODES, NOW, TIMING, counter_ids, plan, seconds

from miniorch.reconcile import job as job_mod
from miniorch.reconcile import pods as pod_logic
from miniorch.reconcile.actions import BindPod, CreatePod, DeletePod, RestartPod
from miniorch.reconcile.conditions import Condition, has_condition
from miniorch.reconcile.placement import Load, NodeView
from miniorch.reconcile.views import ContainerView, PodPhase, PodView


def make_job(**overrides: object) -> job_mod.JobParams:
    """The `pi` Job with the given spec fields."""
    return job_mod.JobParams(uid="job-uid", namespace="default", name="pi", **overrides)  # type: ignore[arg-type]


def make_pod(n: int, phase: PodPhase = PodPhase.RUNNING, node: str | None = "node0", **fields: object) -> PodView:
    """An existing pod of the `pi` Job, created n seconds after a fixed base time."""
    return PodView(
        uid=f"old-{n}",
        name=f"pi-old{n}",
        namespace="default",
        owner_kind="Job",
        owner_name="pi",
        owner_uid="job-uid",
        node=node,
        phase=phase,
        created_at=NOW - dt.timedelta(minutes=10) + seconds(n),
        **fields,  # type: ignore[arg-type]
    )


def failed_pod(n: int, at: dt.datetime, **fields: object) -> PodView:
    """A restartPolicy Never pod that failed once at `at`."""
    return make_pod(n, PodPhase.FAILED, reason="Error", failures=1, last_failure_at=at, finished_at=at, **fields)  # type: ignore[arg-type]


def succeeded_pod(n: int, at: dt.datetime = NOW - dt.timedelta(minutes=1)) -> PodView:
    """A pod that exited 0 at `at`."""
    return make_pod(n, PodPhase.SUCCEEDED, reason="Completed", finished_at=at, exit_code=0)


def created(p: job_mod.JobPlan) -> list[PodView]:
    """The pods the plan creates."""
    return [a.pod for a in p.actions if isinstance(a, CreatePod)]


def deleted(p: job_mod.JobPlan) -> list[DeletePod]:
    """The DeletePod actions of the plan."""
    return [a for a in p.actions if isinstance(a, DeletePod)]


def condition(status: job_mod.JobStatus, type_: str) -> Condition:
    """The condition of that type (it must exist)."""
    [cond] = [c for c in status.conditions if c.type == type_]
    return cond


# --- creating pods ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parallelism", "completions", "expected"),
    [(1, 1, 1), (3, 5, 3), (4, 2, 2), (2, None, 2), (5, 5, 5)],
)
def test_first_pass_creates_parallelism_pods_capped_by_completions(
    parallelism: int, completions: int | None, expected: int
) -> None:
    """A new Job starts min(parallelism, completions) pods on its first pass."""
    p = plan(make_job(parallelism=parallelism, completions=completions))
    assert len(created(p)) == expected
    assert p.status.active == expected
    assert p.status.start_time == NOW
    assert p.wake_at is None


def test_created_pods_carry_job_labels_owner_and_unique_names() -> None:
    """New pods are named <job>-<suffix>, owned by the Job and labelled like Kubernetes Job pods."""
    job = make_job(parallelism=2, completions=2, pod_labels={"app": "pi"}, pod_annotations={"note": "x"})
    pods = created(plan(job))
    assert [(p.name, p.uid) for p in pods] == [("pi-n1", "uid-1"), ("pi-n2", "uid-2")]
    for pod in pods:
        assert (pod.owner_kind, pod.owner_name, pod.owner_uid, pod.namespace) == ("Job", "pi", "job-uid", "default")
        assert pod.phase is PodPhase.PENDING
        assert pod.created_at == NOW
        assert pod.labels == {
            "app": "pi",
            "job-name": "pi",
            "batch.kubernetes.io/job-name": "pi",
            "controller-uid": "job-uid",
            "batch.kubernetes.io/controller-uid": "job-uid",
        }
        assert pod.annotations == {"note": "x"}


def test_created_pods_spread_over_the_least_loaded_nodes_and_update_load() -> None:
    """Each new pod goes to the least loaded node, and the shared load map counts it."""
    load = {"node0": 1}
    p = plan(make_job(parallelism=3, completions=3), load=load)
    pods = created(p)
    assert [p.node for p in pods] == ["node1", "node0", "node1"]
    assert p.load.counts == {"node0": 2, "node1": 2}
    assert load == {"node0": 1}  # the caller's load is not changed: the plan returns the new one


def test_start_time_is_kept_from_the_previous_status() -> None:
    """startTime is set once, on the first pass, and never moves afterwards."""
    previous = job_mod.JobStatus(start_time=NOW - dt.timedelta(hours=1))
    p = plan(make_job(), [make_pod(1)], previous=previous)
    assert p.status.start_time == NOW - dt.timedelta(hours=1)


def test_running_pods_are_not_duplicated() -> None:
    """When the wanted pods already run, a pass creates nothing and reports them active and ready."""
    p = plan(make_job(parallelism=2, completions=2), [make_pod(1), make_pod(2, PodPhase.PENDING)])
    assert p.actions == ()
    assert (p.status.active, p.status.ready) == (2, 1)


@pytest.mark.parametrize(
    ("parallelism", "completions", "succeeded", "active", "expected"),
    [
        (2, 4, 3, 0, 1),
        (2, 4, 0, 0, 2),
        (2, 4, 4, 0, 0),
        (3, 1, 0, 0, 1),
        (2, None, 0, 0, 2),
        (2, None, 1, 1, 1),
        (2, None, 1, 0, 0),
    ],
)
def test_want_active_follows_kubernetes_manage_job(
    parallelism: int, completions: int | None, succeeded: int, active: int, expected: int
) -> None:
    """want_active is min(parallelism, remaining completions), or in work-queue mode no growth after a success."""
    job = make_job(parallelism=parallelism, completions=completions)
    assert job_mod.want_active(job, succeeded, active) == expected


def test_want_active_is_zero_while_suspended() -> None:
    """A suspended Job wants no pods."""
    assert job_mod.want_active(make_job(parallelism=3, completions=3, suspend=True), 0, 3) == 0


def test_remaining_completions_limit_new_pods() -> None:
    """With parallelism 2, completions 4 and 3 succeeded, only one pod is started."""
    pods = [succeeded_pod(1), succeeded_pod(2), succeeded_pod(3)]
    p = plan(make_job(parallelism=2, completions=4), pods)
    assert len(created(p)) == 1
    assert (p.status.active, p.status.succeeded) == (1, 3)


def test_scale_down_deletes_unscheduled_then_pending_then_newest_pods() -> None:
    """Extra pods are removed with reason ScaledDown: unscheduled first, then pending, then the newest running one."""
    pods = [
        make_pod(1),
        make_pod(2),
        make_pod(3, PodPhase.PENDING),
        make_pod(4, PodPhase.PENDING, node=None),
        make_pod(5),
    ]
    p = plan(make_job(parallelism=1, completions=5), pods)
    assert [(d.pod_uid, d.reason) for d in deleted(p)] == [
        ("old-4", "ScaledDown"),
        ("old-3", "ScaledDown"),
        ("old-5", "ScaledDown"),
        ("old-2", "ScaledDown"),
    ]
    assert created(p) == []
    assert (p.status.active, p.status.terminating) == (1, 4)


# --- success ---------------------------------------------------------------------------------------------------


def test_completions_reached_sets_success_criteria_met_and_stops_active_pods() -> None:
    """Once enough pods succeeded, the Job is SuccessCriteriaMet and the still running pods are deleted."""
    pods = [succeeded_pod(1), succeeded_pod(2), make_pod(3)]
    p = plan(make_job(parallelism=3, completions=2), pods)
    assert has_condition(p.status.conditions, "SuccessCriteriaMet")
    assert condition(p.status, "SuccessCriteriaMet").reason == "CompletionsReached"
    assert not has_condition(p.status.conditions, "Complete")
    assert [(d.pod_uid, d.reason) for d in deleted(p)] == [("old-3", "CompletionsReached")]
    assert created(p) == []
    assert p.status.completion_time is None
    assert (p.status.active, p.status.succeeded, p.status.terminating) == (0, 2, 1)


def test_job_completes_only_once_no_pod_is_terminating() -> None:
    """Complete (with completionTime) waits for the pods being stopped to be gone."""
    first = plan(make_job(parallelism=3, completions=2), [succeeded_pod(1), succeeded_pod(2), make_pod(3)])
    stopping = make_pod(3, deletion_reason="CompletionsReached")
    later = NOW + seconds(5)
    second = plan(
        make_job(parallelism=3, completions=2),
        [succeeded_pod(1), succeeded_pod(2), stopping],
        previous=first.status,
        now=later,
    )
    assert second.actions == ()
    assert not has_condition(second.status.conditions, "Complete")
    assert second.status.terminating == 1

    stopped = dataclasses.replace(stopping, phase=PodPhase.FAILED, reason="CompletionsReached")
    done = NOW + seconds(30)
    third = plan(
        make_job(parallelism=3, completions=2),
        [succeeded_pod(1), succeeded_pod(2), stopped],
        previous=second.status,
        now=done,
    )
    assert has_condition(third.status.conditions, "Complete")
    assert has_condition(third.status.conditions, "SuccessCriteriaMet")
    assert third.status.completion_time == done
    assert condition(third.status, "SuccessCriteriaMet").last_transition_time == NOW
    assert (third.status.terminating, third.status.active, third.status.failed) == (0, 0, 0)
    assert [e.reason for e in third.events] == ["Completed"]


def test_single_success_completes_in_one_pass() -> None:
    """With nothing left running, the pass that sees the last success also marks the Job Complete."""
    p = plan(make_job(), [succeeded_pod(1)])
    assert has_condition(p.status.conditions, "SuccessCriteriaMet")
    assert has_condition(p.status.conditions, "Complete")
    assert p.status.completion_time == NOW
    assert p.actions == ()


def test_completion_time_does_not_move_on_later_passes() -> None:
    """A complete Job keeps its completionTime and conditions on every later pass."""
    first = plan(make_job(), [succeeded_pod(1)])
    later = plan(make_job(), [succeeded_pod(1)], previous=first.status, now=NOW + dt.timedelta(hours=2))
    assert later.status.completion_time == NOW
    assert later.status.conditions == first.status.conditions
    assert later.events == ()


# --- work-queue mode (completions unset) -----------------------------------------------------------------------


def test_work_queue_starts_no_new_pods_after_the_first_success() -> None:
    """With completions unset, once one pod succeeded no replacement or extra pod is started."""
    pods = [succeeded_pod(1), make_pod(2)]
    p = plan(make_job(parallelism=3, completions=None), pods)
    assert p.actions == ()
    assert not has_condition(p.status.conditions, "SuccessCriteriaMet")
    assert p.status.active == 1


def test_work_queue_does_not_replace_a_failed_pod_after_a_success() -> None:
    """In work-queue mode a failure after a success is not replaced."""
    pods = [succeeded_pod(1), make_pod(2), failed_pod(3, NOW - dt.timedelta(hours=1))]
    p = plan(make_job(parallelism=3, completions=None), pods)
    assert created(p) == []


def test_work_queue_completes_when_one_succeeded_and_none_active() -> None:
    """With completions unset, the Job completes when at least one pod succeeded and none is active."""
    p = plan(make_job(parallelism=3, completions=None), [succeeded_pod(1), succeeded_pod(2)])
    assert has_condition(p.status.conditions, "Complete")
    assert p.status.completion_time == NOW
    assert p.status.succeeded == 2


# --- failures and backoff --------------------------------------------------------------------------------------


def test_replacement_waits_for_backoff_delay() -> None:
    """After a failure the replacement starts only once last_failure_at + initial delay has passed."""
    failed_at = NOW - seconds(3)
    job = make_job(backoff_limit=1)
    waiting = plan(job, [failed_pod(1, failed_at)])
    assert created(waiting) == []
    assert waiting.wake_at == failed_at + seconds(10)
    assert waiting.status.failed == 1

    ready = plan(job, [failed_pod(1, failed_at)], previous=waiting.status, now=failed_at + seconds(10))
    assert len(created(ready)) == 1
    assert ready.wake_at is None
    assert not has_condition(ready.status.conditions, "FailureTarget")


def test_backoff_doubles_with_each_failure() -> None:
    """With two failures the replacement waits 20s after the latest one."""
    last = NOW - seconds(1)
    pods = [failed_pod(1, NOW - seconds(100)), failed_pod(2, last)]
    p = plan(make_job(backoff_limit=3), pods)
    assert created(p) == []
    assert p.wake_at == last + seconds(20)


def test_no_replacement_while_an_evicted_pod_may_still_run_on_a_reachable_node() -> None:
    """A pod being evicted from a ready node is not replaced until its container has stopped (DESIGN 4.2)."""
    stopping = make_pod(1, deletion_reason="Evicted")
    p = plan(make_job(), [stopping])
    assert created(p) == []
    assert (p.status.active, p.status.terminating, p.status.failed) == (0, 1, 0)

    stopped = dataclasses.replace(stopping, phase=PodPhase.FAILED, reason="Evicted")
    after = plan(make_job(), [stopped], previous=p.status, now=NOW + seconds(30))
    assert len(created(after)) == 1
    assert after.status.failed == 0


def test_no_replacement_while_a_pod_is_on_an_unreachable_node() -> None:
    """A pod whose node stopped answering (Unknown) still counts as active, so nothing doubles it."""
    p = plan(make_job(), [make_pod(1, PodPhase.UNKNOWN, reason="NodeUnreachable")])
    assert p.actions == ()
    assert p.status.active == 1


def test_pods_stopped_by_miniorch_do_not_count_as_failures() -> None:
    """A pod lost with its node (failures 0, reason NodeLost) is replaced at once and does not count."""
    lost = make_pod(1, PodPhase.FAILED, reason="NodeLost", finished_at=NOW - seconds(1))
    p = plan(make_job(backoff_limit=0), [lost])
    assert len(created(p)) == 1
    assert p.status.failed == 0
    assert p.wake_at is None


def test_exceeding_backoff_limit_sets_failure_target_then_failed() -> None:
    """Past backoffLimit the Job gets FailureTarget, active pods are deleted, and Failed follows once they are gone."""
    job = make_job(parallelism=3, completions=3, backoff_limit=1)
    pods = [failed_pod(1, NOW - seconds(20)), failed_pod(2, NOW - seconds(5)), make_pod(3)]
    first = plan(job, pods)
    assert has_condition(first.status.conditions, "FailureTarget")
    assert condition(first.status, "FailureTarget").reason == "BackoffLimitExceeded"
    assert not has_condition(first.status.conditions, "Failed")
    assert [(d.pod_uid, d.reason) for d in deleted(first)] == [("old-3", "BackoffLimitExceeded")]
    assert created(first) == []
    assert ("Warning", "BackoffLimitExceeded") in [(e.type, e.reason) for e in first.events]
    assert (first.status.failed, first.status.active, first.status.terminating) == (2, 0, 1)

    stopping = dataclasses.replace(pods[2], deletion_reason="BackoffLimitExceeded")
    second = plan(job, [*pods[:2], stopping], previous=first.status, now=NOW + seconds(1))
    assert second.actions == ()
    assert not has_condition(second.status.conditions, "Failed")

    stopped = dataclasses.replace(stopping, phase=PodPhase.FAILED, reason="BackoffLimitExceeded")
    third = plan(job, [*pods[:2], stopped], previous=second.status, now=NOW + seconds(40))
    assert has_condition(third.status.conditions, "Failed")
    failed = condition(third.status, "Failed")
    assert (failed.reason, failed.last_transition_time) == ("BackoffLimitExceeded", NOW + seconds(40))
    assert third.status.completion_time is None
    assert third.status.failed == 2
    assert third.actions == ()


def test_replacement_is_withheld_while_running_pods_could_exhaust_the_limit() -> None:
    """With one failure and one pod still running, backoffLimit 1 allows no further pod (it could be run 3)."""
    job = make_job(parallelism=2, completions=2, backoff_limit=1)
    p = plan(job, [failed_pod(1, NOW - dt.timedelta(hours=1)), make_pod(2)])
    assert created(p) == []
    assert not has_condition(p.status.conditions, "FailureTarget")


def test_replacement_is_started_when_the_limit_leaves_room() -> None:
    """With backoffLimit 2, one failure and one running pod, one replacement may start."""
    job = make_job(parallelism=2, completions=2, backoff_limit=2)
    p = plan(job, [failed_pod(1, NOW - dt.timedelta(hours=1)), make_pod(2)])
    assert len(created(p)) == 1


def test_onfailure_restart_waits_for_backoff() -> None:
    """An OnFailure pod waiting to restart gets RestartPod only after the backoff delay."""
    failed_at = NOW - seconds(4)
    pod = make_pod(1, restart_pending=True, failures=1, last_failure_at=failed_at, reason="Error")
    job = make_job(restart_policy="OnFailure", backoff_limit=3)
    early = plan(job, [pod])
    assert early.actions == ()
    assert early.wake_at == failed_at + seconds(10)
    assert (early.status.active, early.status.ready, early.status.failed) == (1, 0, 1)

    due = plan(job, [pod], previous=early.status, now=failed_at + seconds(10))
    assert due.actions == (RestartPod("old-1"),)
    assert created(due) == []


def test_onfailure_restart_only_while_failures_plus_active_stay_within_limit() -> None:
    """RestartPod is withheld when failures + active pods would exceed backoffLimit + 1."""
    failed_at = NOW - dt.timedelta(hours=1)
    waiting = make_pod(1, restart_pending=True, failures=1, last_failure_at=failed_at)
    running = make_pod(2)
    job = make_job(parallelism=2, completions=2, restart_policy="OnFailure", backoff_limit=1)
    p = plan(job, [waiting, running])
    assert p.actions == ()

    roomy = dataclasses.replace(job, backoff_limit=2)
    assert plan(roomy, [waiting, running]).actions == (RestartPod("old-1"),)


def test_onfailure_pods_waiting_to_restart_are_not_counted_twice() -> None:
    """Two OnFailure pods that failed once each, backoffLimit 2: one may run a third time, so one restarts."""
    failed_at = NOW - dt.timedelta(hours=1)
    pods = [make_pod(n, restart_pending=True, failures=1, last_failure_at=failed_at) for n in (1, 2)]
    job = make_job(parallelism=2, completions=2, restart_policy="OnFailure", backoff_limit=2)
    p = plan(job, pods)
    assert len([a for a in p.actions if isinstance(a, RestartPod)]) == 1
    assert not has_condition(p.status.conditions, "FailureTarget")


def test_onfailure_pod_past_the_limit_is_deleted() -> None:
    """An OnFailure pod whose failures exceed backoffLimit is deleted and the Job gets FailureTarget."""
    pod = make_pod(1, restart_pending=True, failures=2, last_failure_at=NOW - seconds(1))
    p = plan(make_job(restart_policy="OnFailure", backoff_limit=1), [pod])
    assert p.actions == (DeletePod("old-1", "BackoffLimitExceeded"),)
    assert has_condition(p.status.conditions, "FailureTarget")


def _exited(pod: PodView, code: int, at: dt.datetime) -> ContainerView:
    """The container of `pod` exited with `code` at `at`."""
    return ContainerView(status="exited", exit_code=code, started_at=pod.started_at, finished_at=at)


def simulate_always_failing(job: job_mod.JobParams) -> tuple[int, job_mod.JobStatus]:
    """Run the planner against a world where every run exits 1; return (runs started, final status)."""
    new_id = counter_ids()
    pods: dict[str, PodView] = {}
    status = job_mod.JobStatus()
    now = NOW
    runs = 0
    for _ in range(200):
        p = job_mod.plan_job(job, status, list(pods.values()), NODES, Load(), now, TIMING, new_id)
        status = p.status
        for action in p.actions:
            match action:
                case CreatePod(pod=pod):
                    pods[pod.uid] = dataclasses.replace(pod, phase=PodPhase.RUNNING, started_at=now)
                    runs += 1
                case RestartPod(pod_uid=uid):
                    pods[uid] = dataclasses.replace(
                        pods[uid],
                        phase=PodPhase.RUNNING,
                        restart_pending=False,
                        restart_count=pods[uid].restart_count + 1,
                    )
                    runs += 1
                case DeletePod(pod_uid=uid, reason=reason):
                    stopping = dataclasses.replace(pods[uid], deletion_reason=reason)
                    pods[uid] = pod_logic.on_exit(stopping, _exited(stopping, 137, now), job.restart_policy, now)
                case BindPod():
                    raise AssertionError("every pod should have been placed at creation")
        if status.finished:
            return runs, status
        running = [u for u, pod in pods.items() if pod.active and not pod.restart_pending]
        if running:
            now += seconds(1)
            for uid in running:
                pods[uid] = pod_logic.on_exit(pods[uid], _exited(pods[uid], 1, now), job.restart_policy, now)
        else:
            # Backing off: sleep until wake_at; otherwise a pod event (our own stop) wakes the loop.
            now = max(now + seconds(1), p.wake_at or now)
    raise AssertionError(f"the Job never finished after {runs} runs: {status}")


@pytest.mark.parametrize("restart_policy", ["Never", "OnFailure"])
@pytest.mark.parametrize("backoff_limit", [0, 1, 2, 3, 4])
def test_backoff_limit_n_allows_exactly_n_plus_one_runs(restart_policy: str, backoff_limit: int) -> None:
    """With every run failing, backoffLimit N gives exactly N+1 runs for Never and OnFailure alike (DESIGN 4.1)."""
    job = make_job(restart_policy=restart_policy, backoff_limit=backoff_limit)
    runs, status = simulate_always_failing(job)
    assert runs == backoff_limit + 1
    assert status.failed == backoff_limit + 1
    assert has_condition(status.conditions, "Failed")
    assert condition(status, "Failed").reason == "BackoffLimitExceeded"


@pytest.mark.parametrize("restart_policy", ["Never", "OnFailure"])
@pytest.mark.parametrize("backoff_limit", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("parallelism", [2, 3])
def test_parallel_always_failing_job_fails_after_n_plus_one_runs(
    restart_policy: str, backoff_limit: int, parallelism: int
) -> None:
    """With parallelism p every run failing, the Job ends Failed after max(N+1, p) runs, never stalling."""
    job = make_job(
        restart_policy=restart_policy, backoff_limit=backoff_limit, parallelism=parallelism, completions=parallelism
    )
    runs, status = simulate_always_failing(job)
    assert runs == max(backoff_limit + 1, parallelism)
    assert status.failed == runs
    assert has_condition(status.conditions, "Failed")
    assert condition(status, "Failed").reason == "BackoffLimitExceeded"


# --- suspend ---------------------------------------------------------------------------------------------------


def test_suspend_deletes_pods_and_sets_suspended_condition() -> None:
    """Suspending a running Job deletes its pods with reason Suspended and adds Suspended=True."""
    job = make_job(parallelism=2, completions=4, suspend=True)
    previous = job_mod.JobStatus(start_time=NOW - dt.timedelta(minutes=5))
    p = plan(job, [make_pod(1), make_pod(2)], previous=previous)
    assert sorted((d.pod_uid, d.reason) for d in deleted(p)) == [("old-1", "Suspended"), ("old-2", "Suspended")]
    assert created(p) == []
    cond = condition(p.status, "Suspended")
    assert (cond.status, cond.reason) == ("True", "JobSuspended")
    assert ("Normal", "Suspended") in [(e.type, e.reason) for e in p.events]
    assert (p.status.active, p.status.terminating) == (0, 2)


def test_job_created_suspended_starts_nothing_and_has_no_start_time() -> None:
    """A Job created with suspend: true starts no pods and gets no startTime."""
    p = plan(make_job(suspend=True))
    assert p.actions == ()
    assert p.status.start_time is None
    assert has_condition(p.status.conditions, "Suspended")


def test_resuming_a_job_starts_pods_and_flips_suspended_to_false() -> None:
    """Unsuspending sets Suspended=False (reason JobResumed) and starts the wanted pods."""
    suspended = plan(make_job(suspend=True)).status
    p = plan(make_job(parallelism=2, completions=2), previous=suspended, now=NOW + seconds(60))
    cond = condition(p.status, "Suspended")
    assert (cond.status, cond.reason, cond.last_transition_time) == ("False", "JobResumed", NOW + seconds(60))
    assert len(created(p)) == 2
    assert p.status.start_time == NOW + seconds(60)


# --- scheduling ------------------------------------------------------------------------------------------------


def test_pod_without_a_fitting_node_is_created_unscheduled_with_failed_scheduling_event() -> None:
    """With no ready node the pod is still recorded, without a node, and a FailedScheduling warning is emitted."""
    nodes = (NodeView("node0", ready=False), NodeView("node1", ready=False))
    p = plan(make_job(), nodes=nodes)
    [pod] = created(p)
    assert pod.node is None
    assert pod.reason == "Unschedulable"
    assert pod.message == "0/2 nodes are available: 2 node(s) were not ready."
    assert ("Warning", "FailedScheduling", pod.message) in [(e.type, e.reason, e.message) for e in p.events]
    assert p.status.active == 1


def test_unscheduled_pod_is_bound_once_a_node_is_ready() -> None:
    """A pod created without a node gets BindPod to a ready node on a later pass, and no duplicate is created."""
    nodes = (NodeView("node0", ready=False), NodeView("node1", ready=True))
    pending = make_pod(1, PodPhase.PENDING, node=None, reason="Unschedulable")
    load: dict[str, int] = {}
    p = plan(make_job(), [pending], nodes=nodes, load=load)
    assert p.actions == (BindPod("old-1", "node1"),)
    assert p.load.counts == {"node1": 1}


def test_unscheduled_pod_stays_unbound_while_no_node_fits() -> None:
    """Without a fitting node an unscheduled pod is neither bound nor duplicated."""
    pending = make_pod(1, PodPhase.PENDING, node=None, reason="Unschedulable")
    p = plan(make_job(), [pending], nodes=(NodeView("node0", ready=True, schedulable=False),))
    assert p.actions == ()


# --- finished Jobs and status serialisation ---------------------------------------------------------------------


def test_finished_job_makes_no_new_pods() -> None:
    """A Complete or Failed Job starts nothing, even if its spec would now want more pods."""
    complete = plan(make_job(), [succeeded_pod(1)]).status
    assert plan(make_job(completions=3, parallelism=3), [succeeded_pod(1)], previous=complete).actions == ()

    lost = [failed_pod(1, NOW - seconds(30))]
    failed = plan(make_job(backoff_limit=0), lost).status
    assert has_condition(failed.conditions, "Failed")
    assert plan(make_job(backoff_limit=5), lost, previous=failed, now=NOW + dt.timedelta(hours=1)).actions == ()


def test_status_round_trips_through_dict() -> None:
    """status_from_dict(status_to_dict(s)) gives back s (times at whole seconds)."""
    status = job_mod.JobStatus(
        active=1,
        succeeded=2,
        failed=3,
        ready=1,
        terminating=1,
        start_time=NOW,
        completion_time=NOW + seconds(90),
        conditions=(
            Condition("SuccessCriteriaMet", "True", "CompletionsReached", "done", NOW + seconds(80)),
            Condition("Complete", "True", "CompletionsReached", "done", NOW + seconds(90)),
        ),
    )
    data = job_mod.status_to_dict(status)
    assert data["startTime"] == "2024-05-01T12:00:00Z"
    assert data["completionTime"] == "2024-05-01T12:01:30Z"
    assert [c["type"] for c in data["conditions"]] == ["SuccessCriteriaMet", "Complete"]  # type: ignore[attr-defined]
    assert job_mod.status_from_dict(data) == status


def test_empty_status_round_trips_without_optional_fields() -> None:
    """A fresh status serialises to counters only and reads back unchanged."""
    data = job_mod.status_to_dict(job_mod.JobStatus())
    assert data == {"active": 0, "succeeded": 0, "failed": 0, "ready": 0, "terminating": 0}
    assert job_mod.status_from_dict(data) == job_mod.JobStatus()
    assert job_mod.status_from_dict({}) == job_mod.JobStatus()
