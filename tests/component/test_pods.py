"""Pods against fake nodes: runs, settles, adoption, vanished containers, hung nodes, refused starts."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import structlog.testing
from prometheus_client import generate_latest

from component.cluster import Cluster
from miniorch.clock import utcnow
from miniorch.nodes import records as nr
from miniorch.reconcile.views import READY_SINCE
from miniorch.spec import loader
from miniorch.store.records import PodPhase, PodRecord

Run = Callable[..., None]


def test_a_die_event_settles_the_pod_with_four_docker_calls_and_no_inspect(cluster: Run) -> None:
    """The `die` event carries the exit code: create, start, logs, remove, and no listing is waited for."""

    async def scenario(c: Cluster) -> None:
        c.apply("three", completions=3)
        node = c.node()
        for _ in range(3):
            (pod,) = await c.running("three")
            node.finish(pod.name, 0, output="done")
            await c.wait_for("the pod settled", functools.partial(lambda n: c.phase(n) is PodPhase.SUCCEEDED, pod.name))
        await c.wait_for("the Job complete", lambda: c.complete("three"))
        # The record says so once the engine has removed it (the save follows the `remove` call).
        await c.wait_for(
            "containers removed", lambda: not node.containers and all(p.container_removed for p in c.pods("three"))
        )
        assert c.status("three")["succeeded"] == 3
        assert {k: v for k, v in node.calls.items() if k != "list_managed"} == {
            "create": 3,
            "start": 3,
            "logs": 3,
            "remove": 3,
        }
        done = c.pods("three")
        assert all(p.exit_code == 0 and p.finished_at and p.started_at for p in done)
        assert all("done" in p.log_tail and p.container_removed for p in done)

    cluster(scenario)


def test_a_failed_run_is_recorded_from_its_die_event(cluster: Run) -> None:
    async def scenario(c: Cluster) -> None:
        c.apply("fails", backoff_limit=0)
        (pod,) = await c.running("fails")
        c.node().finish(pod.name, 3)
        await c.wait_for("the Job failed", lambda: c.status("fails").get("failed") == 1)
        (done,) = c.pods("fails")
        assert (done.phase, done.exit_code, done.reason) == (PodPhase.FAILED, 3, "Error")
        assert c.node().calls["inspect"] == 0

    cluster(scenario)


def test_an_oom_or_a_foreign_kill_is_settled_from_the_inspect(cluster: Run) -> None:
    """OOMKilled is only in the inspect; a kill we did not send may be the engine shutting down."""

    async def scenario(c: Cluster) -> None:
        c.apply("oom", backoff_limit=0)
        (pod,) = await c.running("oom")
        c.node().finish(pod.name, 137, oom=True)
        await c.wait_for("the oom recorded", lambda: c.status("oom").get("failed") == 1)
        assert c.pods("oom")[0].reason == "OOMKilled" and c.node().calls["inspect"] == 1
        c.apply("killed", backoff_limit=0)
        (pod,) = await c.running("killed")
        c.node().kill(pod.name, 137)
        await c.wait_for("the kill recorded", lambda: c.status("killed").get("failed") == 1)
        assert c.pods("killed")[0].exit_code == 137 and c.node().calls["inspect"] == 2

    cluster(scenario)


def test_engine_shutdown_kill_is_not_a_failed_run_the_pod_is_lost_and_replaced(cluster: Run) -> None:
    """The engine kills its containers as it stops (kill, die), then answers nothing: the pod is not
    recorded as failed; once the node is NotReady it is NodeLost and replaced, failed stays 0."""

    async def scenario(c: Cluster) -> None:
        c.apply("lossy")
        (pod,) = await c.running("lossy")
        node = c.node()
        node.kill(pod.name, 143)
        node.hang()
        await c.wait_for("the settle's inspect sent", lambda: node.calls["inspect"] == 1)
        node.unhang()  # the inspect fails: connection refused
        node.hang()
        c.monitor.ready.discard("node0")
        c.controller.wake()
        await c.wait_for("the pod lost", lambda: c.pods("lossy")[0].reason == "NodeLost")
        assert c.status("lossy").get("failed", 0) == 0 and c.pods("lossy")[0].exit_code is None

    cluster(scenario)


def test_a_settle_racing_the_launch_that_records_the_start(cluster: Run) -> None:
    """The container exits (`true`) before its launch has recorded the start: the `die` is kept for the
    pass after the launch ends, which settles it."""

    async def scenario(c: Cluster) -> None:
        node = c.node()
        started = node.hold("start")
        c.apply("quick")
        await c.wait_for("the start sent", lambda: node.calls["start"] == 1)
        started.set()
        await c.wait_for("the container started", lambda: any(x.status == "running" for x in node.containers.values()))
        (name,) = node.containers
        node.finish(name, 0)  # the die event comes while the launch still records the start
        await c.wait_for("the Job complete", lambda: c.complete("quick"))
        (pod,) = c.pods("quick")
        assert (pod.phase, pod.exit_code, pod.started_at is not None) == (PodPhase.SUCCEEDED, 0, True)

    cluster(scenario)


def test_restarted_daemon_adopts_the_running_container_and_settles_it_by_inspect(cluster: Run) -> None:
    """kill -9 and restart: the running container is the pod (no second one); its end, whose start the
    new event stream did not see, is settled from the inspect; counted once."""

    async def scenario(c: Cluster) -> None:
        c.apply("adopt")
        (pod,) = await c.running("adopt")
        await c.restart()
        c.controller.wake()
        await c.wait_for("a pass of the new daemon", lambda: c.node().calls["list_managed"] >= 2)
        c.node().finish(pod.name, 0)
        await c.wait_for("the Job complete", lambda: c.complete("adopt"))
        assert [p.name for p in c.pods("adopt")] == [pod.name] and c.node().calls["create"] == 1
        assert c.node().calls["inspect"] == 1 and c.status("adopt")["succeeded"] == 1

    cluster(scenario)


def test_a_container_whose_record_was_lost_is_adopted_from_its_labels(cluster: Run) -> None:
    async def scenario(c: Cluster) -> None:
        job = c.apply("relabel")
        (pod,) = await c.running("relabel")
        labels = dict(c.node().containers[pod.name].labels)
        await c.restart()
        c.store.delete_pods([pod.uid])  # the record is gone, the container is not
        c.node().containers[pod.name].labels = labels
        c.controller.wake()
        await c.wait_for("the pod adopted", lambda: [p.name for p in c.pods("relabel")] == [pod.name])
        adopted = c.pods("relabel")[0]
        assert (adopted.uid, adopted.owner_uid, adopted.phase) == (labels[nr.POD_UID], job.uid, PodPhase.RUNNING)
        c.node().finish(pod.name, 0)
        await c.wait_for("the Job complete", lambda: c.complete("relabel"))

    cluster(scenario)


def test_a_container_removed_behind_our_back_fails_its_pod(cluster: Run) -> None:
    async def scenario(c: Cluster) -> None:
        c.apply("gone", backoff_limit=1)
        (pod,) = await c.running("gone")
        c.node().vanish(pod.name)
        with structlog.testing.capture_logs() as logs:
            c.controller.wake()  # the next listing sees it missing
            await c.wait_for("the failure counted", lambda: c.status("gone").get("failed") == 1)
        first = c.pods("gone")[0]
        assert (first.phase, first.reason, first.container_removed) == (PodPhase.FAILED, "ContainerRemoved", True)
        assert c.status("gone")["failed"] == 1
        said = [e for e in logs if e["event"] == "pod_container_gone"]
        assert [(e["pod"], e["was"], e["reason"]) for e in said] == [(pod.name, "Running", "ContainerRemoved")]

    cluster(scenario)


def test_a_hung_node_holds_up_no_pass_and_its_pods_are_lost_once_it_is_not_ready(cluster: Run) -> None:
    """node0 hangs: its listing is late, its pod stays as it was while node1's Job runs on; once node0 is
    NotReady its pod is NodeLost and replaced on node1, not counted as failed."""

    async def scenario(c: Cluster) -> None:
        c.monitor.ready.discard("node1")
        c.apply("stuck")
        (stuck,) = await c.running("stuck")
        assert stuck.node == "node0"
        c.node("node0").hang()
        c.monitor.ready.add("node1")
        c.apply("other", pod_spec={"nodeSelector": {"kubernetes.io/hostname": "node1"}})
        (other,) = await c.running("other")
        c.node("node1").finish(other.name, 0)
        await c.wait_for("node1's Job complete", lambda: c.complete("other"), timeout=3)
        assert c.pods("stuck")[0].phase is PodPhase.RUNNING  # nothing is known either way
        c.monitor.ready.discard("node0")
        c.controller.wake()
        await c.wait_for("the pod lost and replaced", lambda: len(c.pods("stuck")) == 2)
        lost, again = c.pods("stuck")
        assert (lost.reason, again.node) == ("NodeLost", "node1")
        await c.running("stuck")
        c.node("node1").finish(again.name, 0)
        await c.wait_for("the Job complete", lambda: c.complete("stuck"))
        assert c.status("stuck").get("failed", 0) == 0

    cluster(scenario, nodes=("node0", "node1"))


def test_a_refused_start_is_retried_with_backoff_then_runs(cluster: Run) -> None:
    async def scenario(c: Cluster) -> None:
        node = c.node()
        node.refuse_start = "failed to create endpoint: bridge gone"
        c.apply("refused")

        def failed_events() -> list[Any]:
            pods = c.pods("refused")
            return [e for e in c.store.list_events(uid=pods[0].uid) if e.reason == "Failed"] if pods else []

        # the pod is saved, then its event recorded: wait for both (the event is what a user reads)
        await c.wait_for(
            "the start refused", lambda: any(p.start_attempts == 1 for p in c.pods("refused")) and failed_events()
        )
        (pod,) = c.pods("refused")
        assert (pod.phase, pod.reason) == (PodPhase.PENDING, "RunContainerError")
        assert "bridge gone" in pod.message and pod.name not in node.containers  # removed for a fresh create
        events = failed_events()
        assert len(events) == 1 and events[0].type == "Warning"
        node.refuse_start = ""
        (running,) = await c.running("refused")  # the next try, after 1 s
        assert running.start_attempts == 0 and node.calls["create"] == 2
        node.finish(pod.name, 0)
        await c.wait_for("the Job complete", lambda: c.complete("refused"))
        assert c.status("refused").get("failed", 0) == 0

    cluster(scenario)


def test_drain_evicts_the_job_pods_and_leaves_pods_of_kinds_that_stay(cluster: Run) -> None:
    """ctl drain: a Job pod is evicted (Evicted, not counted, replaced elsewhere); a DaemonSet's pod stays."""

    async def scenario(c: Cluster) -> None:
        c.apply("drained")
        (pod,) = await c.running("drained")
        agent = _daemonset_pod(c, "node0")
        c.monitor.cordoned.add("node0")  # ctl drain cordons first
        assert c.controller.drain("node0") == [pod.name]
        # `ctl drain` asks again until none is left (a pod busy with an operation is evicted after it)
        await c.wait_for("the pod evicted", lambda: not c.controller.drain("node0"))
        assert c.pods("drained")[0].reason == "Evicted"
        assert c.store.get_pod("default", agent) is not None
        assert c.store.get_pod("default", agent).deletion_reason == ""  # type: ignore[union-attr]
        await c.wait_for("a replacement waiting", lambda: len(c.pods("drained")) == 2)
        assert c.pods("drained")[1].node is None  # nowhere else to go
        assert c.status("drained").get("failed", 0) == 0

    cluster(scenario)


def test_a_not_ready_node_loses_job_pods_and_keeps_pods_of_kinds_that_stay(cluster: Run) -> None:
    """The owner kind's policy decides: the Job pod is NodeLost, the DaemonSet's pod shows Unknown."""

    async def scenario(c: Cluster) -> None:
        c.apply("lost")
        (pod,) = await c.running("lost")
        agent = _daemonset_pod(c, "node0")
        c.monitor.ready.discard("node0")
        c.controller.wake()
        await c.wait_for("the Job pod lost", lambda: c.pods("lost")[0].reason == "NodeLost")
        kept = c.store.get_pod("default", agent)
        assert kept is not None and (kept.phase, kept.reason) == (PodPhase.UNKNOWN, "NodeUnreachable")

    cluster(scenario)


def _daemonset_pod(c: Cluster, node: str) -> str:
    """A running pod of a DaemonSet (no planner here: only its record and container)."""
    from miniorch.store.records import PodRecord

    name = "agent-x1"
    labels: dict[str, Any] = {nr.MANAGED: "true", nr.POD: name, nr.OWNER_KIND: "DaemonSet", nr.OWNER_UID: "ds1"}
    c.node(node).add(name, labels)
    c.store.save_pod(
        PodRecord(
            uid="p-agent",
            name=name,
            namespace="default",
            owner_kind="DaemonSet",
            owner_name="agent",
            owner_uid="ds1",
            node=node,
            phase=PodPhase.RUNNING,
            created_at=c.clock.now(),
        )
    )
    return name


def test_the_next_pod_of_a_serial_job_starts_while_the_finished_ones_log_is_still_read(cluster: Run) -> None:
    """The engine answers `logs` only after its exit clean-up: the run is recorded and its
    replacement started first; the log is kept before the container goes."""

    async def scenario(c: Cluster) -> None:
        c.apply("serial", completions=2)
        node = c.node()
        logs = node.hold("logs")
        (first,) = await c.running("serial")
        node.finish(first.name, 0, output="first says hi")
        await c.wait_for("the next pod running", lambda: len(c.pods("serial")) == 2 and not logs.is_set())
        (second,) = await c.running("serial")
        assert second.name != first.name

        def first_now() -> Any:
            return next(p for p in c.pods("serial") if p.name == first.name)

        assert first_now().phase is PodPhase.SUCCEEDED and not first_now().container_removed  # its log is to come
        logs.set()
        await c.wait_for("the log kept", lambda: "first says hi" in first_now().log_tail)
        await c.wait_for("its container removed", lambda: first.name not in node.containers)

    cluster(scenario)


SURGE = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"


def _agent(version: str = "1", strategy: str = "{type: RollingUpdate}") -> str:
    """The DaemonSet `agent` (a `sleep` per node) at template `version`, updated by `strategy`."""
    return f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  updateStrategy: {strategy}
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      containers: [{{name: agent, image: busybox, command: [sleep, "3600"], env: [{{name: V, value: "{version}"}}]}}]
"""


def test_a_container_the_engine_restarted_in_place_is_settled_once(cluster: Run) -> None:
    """A restartPolicy Always pod whose process crashed and that Docker started again itself:
    its restart is counted from one inspect, and the `die` is then done with. (It was kept
    after each settle, so the pod was settled and inspected again after every settle, hundreds
    of times a second, forever, and the planners, which leave a busy pod alone, could not mark
    it ready again.)"""

    async def scenario(c: Cluster) -> None:
        c.applier.apply(loader.load_text(_agent(), "test"), "api")
        node = c.node()

        def agent() -> list[PodRecord]:
            return [p for p in c.store.list_pods() if p.owner_name == "agent" and p.phase is PodPhase.RUNNING]

        await c.wait_for("the agent running", lambda: bool(agent()))
        (pod,) = agent()
        inspects = node.calls["inspect"]
        node.restart_in_place(pod.name)
        await c.wait_for("the restart counted", lambda: agent() and agent()[0].restart_count == 1)
        await asyncio.sleep(0.5)  # passes come and go: the settle must not repeat
        assert node.calls["inspect"] - inspects <= 2, node.calls
        assert not c.runner.busy(pod.name)
        assert agent()[0].restart_count == 1 and agent()[0].uid == pod.uid

    cluster(scenario)


def test_a_pod_docker_restarted_in_place_is_ready_again_from_its_recorded_restart(cluster: Run) -> None:
    """A listing saw the container exited; then Docker ran it again and the settle recorded
    restartCount 1. The restart ends the old run's readiness (the record drops its mark), and the
    plan-only pass after the settle marks the new run ready from the record, not from that stale
    listing (which left it unready until the next resync's listing: CI once saw ready with
    restartCount 1 on the old mark, then unready)."""

    async def scenario(c: Cluster) -> None:
        c.applier.apply(loader.load_text(_agent(), "test"), "api")
        node = c.node()

        def agent() -> PodRecord:
            (pod,) = [p for p in c.store.list_pods() if p.owner_name == "agent" and not p.phase.terminal]
            return pod

        await c.wait_for("the agent ready", lambda: any(READY_SINCE in p.annotations for p in c.store.list_pods()))
        name, uid, first_mark = agent().name, agent().uid, agent().annotations[READY_SINCE]
        saved: list[tuple[PodRecord, int]] = []  # each save of the pod after its restart, with the listings so far
        save = c.store.save_pod

        def spied(pod: PodRecord) -> Any:
            if pod.name == name and pod.restart_count >= 1:
                saved.append((pod, node.calls["list_managed"]))
            return save(pod)

        c.store.save_pod = spied  # type: ignore[method-assign]
        inspected = node.calls["inspect"]
        release = node.hold("inspect")
        node.finish(name, 3)  # its process ends: the settle waits to see whether Docker restarts it
        await c.wait_for("the settle's look after its wait", lambda: node.calls["inspect"] > inspected, timeout=10)
        listed = node.calls["list_managed"]
        c.wakeups.wake()  # a listing sees it exited, a moment before Docker's restart policy runs it again
        await c.wait_for("a listing of the exited container", lambda: node.calls["list_managed"] > listed)
        listed = node.calls["list_managed"]
        container = node.containers[name]
        container.status, container.started_at = "running", utcnow()
        container.restart_count += 1
        release.set()
        await c.wait_for("ready again", lambda: agent().restart_count == 1 and READY_SINCE in agent().annotations)
        assert agent().uid == uid
        (restarted, _), (marked, listings) = saved[0], saved[-1]
        assert READY_SINCE not in restarted.annotations  # the restart ended the old run's readiness
        assert marked.annotations[READY_SINCE] > first_mark
        assert listings == listed, "not marked ready from its recorded restart: it waited for the next listing"

    cluster(scenario)


def test_a_surge_marks_the_new_pod_ready_before_the_old_one_is_stopped(cluster: Run) -> None:
    """maxSurge 1 / maxUnavailable 0: whenever the old pod's stop is recorded, its node's new pod is
    already recorded ready, so no reader ever sees the node without a ready pod (CI once saw one
    between the two writes)."""

    async def scenario(c: Cluster) -> None:
        def apply(version: str) -> None:
            c.applier.apply(loader.load_text(_agent(version, SURGE), "test"), "api")

        def live() -> list[PodRecord]:
            return [p for p in c.store.list_pods() if p.owner_name == "agent" and not p.phase.terminal]

        apply("1")
        await c.wait_for("the agent ready", lambda: any(READY_SINCE in p.annotations for p in live()))
        (old,) = live()
        seen: list[bool] = []
        save = c.store.save_pod

        def checked(pod: PodRecord) -> Any:
            if pod.uid == old.uid and pod.deletion_reason and not seen:
                others = [p for p in live() if p.uid != old.uid and p.node == old.node]
                seen.append(any(READY_SINCE in p.annotations for p in others))
            return save(pod)

        c.store.save_pod = checked  # type: ignore[method-assign]
        apply("2")
        await c.wait_for("the old pod stopped", lambda: bool(seen))
        assert seen == [True], "the old pod's stop was recorded while its replacement was not yet marked ready"

    cluster(scenario)


def test_a_deleted_one_off_jobs_duration_series_goes_with_it(cluster: Run) -> None:
    """miniorch_job_duration_seconds is labelled by a one-off Job's own name: deleting the Job drops
    its series (kept, every Job ever run stayed in /metrics and in memory)."""

    async def scenario(c: Cluster) -> None:
        def series() -> list[str]:
            text = generate_latest(c.metrics.registry).decode()
            return [line for line in text.splitlines() if line.startswith("miniorch_job_duration_seconds_count")]

        job = c.apply("once")
        (pod,) = await c.running("once")
        c.node().finish(pod.name, 0)
        await c.wait_for("once complete", lambda: c.complete("once") and series())
        assert series() == [
            'miniorch_job_duration_seconds_count{condition="Complete",namespace="default",owner="once"} 1.0'
        ]
        c.store.mark_deleting(job.uid)
        c.wakeups.plan_soon()
        await c.wait_for("the Job gone", lambda: c.store.get_object("Job", "default", "once") is None)
        assert series() == []

    cluster(scenario)


def test_a_finished_jobs_pods_leave_the_daemons_memory_once_its_containers_are_gone(cluster: Run) -> None:
    """Complete, its last container removed: the next pass forgets the Job, and the store's
    in-memory copies of its pods go (they were read once more after the final status, then
    stayed: 4 KB a pod, the whole of a big Job)."""

    async def scenario(c: Cluster) -> None:
        job = c.apply("done", completions=3, parallelism=3)
        for pod in await c.running("done", 3):
            c.node().finish(pod.name, 0)
        await c.wait_for("done complete", lambda: c.complete("done"))
        await c.wait_for("its containers removed", lambda: all(p.container_removed for p in c.pods("done")))

        def passes() -> float:
            return c.metrics.registry.get_sample_value("miniorch_reconcile_pass_duration_seconds_count") or 0.0

        before = passes()
        c.wakeups.wake()
        await c.wait_for("a pass after the removals", lambda: passes() > before)
        full, pods = c.store.pod_changes(job.uid)
        assert full and len(pods) == 3, "the store still follows the finished Job's pods in memory"

    cluster(scenario)


def test_a_burst_that_fills_a_nodes_calls_loses_no_pod(cluster: Run) -> None:
    """A cron herd filled each node's 32 calls: launches and a listing were refused unsent. The
    listing's refusal made the node's pods Unknown, and a pod whose container was never made was
    then recorded failed as removed (886 of 1,500 in a 5-minute herd), each a counted failure and a
    replacement. Now the node is only late for that pass, and a pod never started is created."""

    async def scenario(c: Cluster) -> None:
        node = c.node()
        node.busy = {"create"}  # the launch is refused unsent: the pod waits Pending
        c.apply("burst")
        await c.wait_for("the create refused", lambda: node.calls["create"] >= 1)
        node.busy = {"create", "list_managed"}
        listed = node.calls["list_managed"]
        c.wakeups.wake()
        await c.wait_for("a listing refused", lambda: node.calls["list_managed"] > listed)
        await asyncio.sleep(0.05)
        (pod,) = c.pods("burst")
        assert pod.phase is PodPhase.PENDING, (pod.phase, pod.reason)
        node.busy = set()
        c.wakeups.wake()
        (running,) = await c.running("burst")
        assert running.uid == pod.uid
        node.finish(running.name, 0)
        await c.wait_for("burst complete", lambda: c.complete("burst"))
        assert [(p.phase, p.reason) for p in c.pods("burst")] == [(PodPhase.SUCCEEDED, "Completed")]

    cluster(scenario)
