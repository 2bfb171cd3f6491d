"""Pod operations on the nodes: launch, restart, stop, settle a finished run.

Each runs as a tracked task keyed by pod name, so a slow stop or image pull
never blocks a reconcile pass; while a pod has an operation in flight, passes
leave it alone. Results are committed to the store before containers go.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import structlog

from miniorch import clock as clock_mod
from miniorch import logtail
from miniorch import metrics as metrics_mod
from miniorch.controllers import configrefs, images
from miniorch.controllers import podrecords as pod_logic
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.storeio import store_io
from miniorch.nodes import records as nr
from miniorch.nodes.client import NodeClient
from miniorch.reconcile import configrefs as configrefs_plan
from miniorch.reconcile import startretry
from miniorch.store.errors import StoreUnavailable
from miniorch.store.records import EventRecord, PodPhase, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

LOG_TAIL_LINES = logtail.MAX_LINES
ENGINE_SHUTDOWN_GRACE = 2.0  # s: how soon an engine going down stops answering after its containers die
#: The engine answered and refused (bad parameter, missing network, its bridge gone): a refused
#: try, retried with backoff and then failed (reconcile.startretry). A NodeUnavailable that is
#: not an EngineError (no answer at all) defers the operation instead: node loss handling.
_REFUSED = (nr.DockerRejected, nr.EngineError, nr.ContainerNotFound)


class PodRunner:
    """Owns the in-flight pod operations; wakes the controller when one ends."""

    def __init__(
        self,
        store: Store,
        monitor: NodeMonitor,
        clock: clock_mod.Clock,
        wake: Callable[[], None],
        metrics: metrics_mod.Metrics | None = None,
        done: Callable[[str], None] | None = None,
        look: Callable[[], None] | None = None,
    ) -> None:
        """`wake()` asks for a pass now (a run ended: plan its replacement); `done(pod name)` is
        told when an operation ends, and decides how soon a pass should look (default: now);
        `look()` asks for a pass that lists the containers again (one went missing)."""
        self.metrics = metrics or metrics_mod.Metrics()
        self._store = store
        self._monitor = monitor
        self._clock = clock
        self._wake = wake
        self._done = done or (lambda _pod: wake())
        self._look = look or wake
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cluster = store.cluster_id()
        self._images = images.ImageCopier(store, monitor, clock)
        self.failures: list[BaseException] = []
        #: An operation met a database outage: the controller asks the database before it trusts
        #: a pass again (a pass served from the caches would not notice the outage).
        self.store_failed = False
        self._timers: dict[str, asyncio.TimerHandle] = {}  # pods waiting for their next try

    def busy(self, pod_name: str) -> bool:
        return pod_name in self._tasks

    def _spawn(self, pod: PodRecord, op: Callable[[], Awaitable[None]]) -> None:
        async def wrapped() -> None:
            try:
                await op()
            except nr.NodeBusy as exc:  # a burst: a later pass tries again, as for any deferral
                log.info("pod_operation_waiting", pod=pod.name, node=pod.node, error=exc.detail)
            except nr.NodeUnavailable as exc:
                log.warning("pod_operation_deferred", pod=pod.name, node=pod.node, error=exc.detail)
            except StoreUnavailable as exc:  # not recorded: a later pass observes the container and redoes it
                log.warning("pod_operation_deferred", pod=pod.name, node=pod.node, error=str(exc))
                self.store_failed = True
                self._wake()  # that pass comes now: it meets the outage, logs it and retries with backoff
            finally:
                self._tasks.pop(pod.name, None)
                self._done(pod.name)

        task = asyncio.create_task(wrapped(), name=f"pod:{pod.name}")
        task.add_done_callback(self._check)
        self._tasks[pod.name] = task

    def _check(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Unexpected: surfaces through the supervisor instead of limping on.
            self.failures.append(task.exception())  # type: ignore[arg-type]
            self._wake()

    async def cancel(self) -> None:
        """Abandon the operations in flight (shutdown); each is safe to redo."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    # -- operations -------------------------------------------------------
    def launch(self, pod: PodRecord, spec: nr.ContainerSpec) -> None:
        spec = dataclasses.replace(spec, labels={**spec.labels, nr.CLUSTER: self._cluster})
        self._spawn(pod, lambda: self._launch(pod, spec))

    async def _launch(self, pod: PodRecord, spec: nr.ContainerSpec) -> None:
        assert pod.node is not None
        client = self._monitor.client(pod.node)
        if client is None:
            return
        if spec.config is not None:
            configured = await self._configured(pod, spec)
            if configured is None:
                return
            spec = configured
        try:
            await client.run(client.create, spec)
        except nr.ContainerConflict:
            pass  # created by an earlier attempt: adopt it
        except nr.ImageNotFound as exc:
            if spec.pull == "Never":
                self._fail_start(pod, "ErrImageNeverPull", exc.detail)
                return
            if not await self._images.copy_to(pod.node, spec.image, pod):
                self._fail_start(pod, "ErrImagePull", exc.detail)
                return
            try:
                await client.run(client.create, spec)
            except nr.ContainerConflict:
                pass
            except (nr.ImageNotFound, *_REFUSED) as again:
                await self._refused(pod, startretry.StartError.CREATE, again.detail, client, created=False)
                return
        except _REFUSED as exc:
            await self._refused(pod, startretry.StartError.CREATE, exc.detail, client, created=False)
            return
        try:
            if spec.files:  # ConfigMap/Secret volumes: one archive call, before the process runs
                await client.run(client.put_files, pod.name, spec.files, self._clock.now().timestamp())
            await client.run(client.start, pod.name)
        except _REFUSED as exc:
            await self._refused(pod, startretry.StartError.RUN, exc.detail, client, created=True)
            return
        now = self._clock.now()
        await store_io(
            self._store.save_pod,
            dataclasses.replace(pod, phase=PodPhase.RUNNING, started_at=now, reason="", message="", start_attempts=0),
        )
        log.info("pod_started", pod=pod.name, node=pod.node, owner=pod.owner_name)
        self.metrics.pod_started(pod.owner_kind)

    async def _configured(self, pod: PodRecord, spec: nr.ContainerSpec) -> nr.ContainerSpec | None:
        """The spec with its ConfigMaps and Secrets resolved; None when one is missing: the pod waits
        Pending (CreateContainerConfigError, with a Warning event) and a later pass tries again."""
        result = await store_io(configrefs.prepare, self._store, pod, spec)
        if not isinstance(result, configrefs_plan.Missing):
            return result
        now = self._clock.now()
        if (pod.reason, pod.message) != (configrefs_plan.REASON, result.message):
            waiting = dataclasses.replace(pod, reason=configrefs_plan.REASON, message=result.message)
            await store_io(self._store.save_pod, waiting)
        event = EventRecord(
            namespace=pod.namespace,
            kind="Pod",
            name=pod.name,
            uid=pod.uid,
            type="Warning",
            reason="Failed",
            message=f"Error: {result.message}",
            first_timestamp=now,
            last_timestamp=now,
        )
        await store_io(self._store.record_event, event)
        log.warning("pod_config_missing", pod=pod.name, node=pod.node, owner=pod.owner_name, error=result.message)
        return None

    async def _refused(
        self, pod: PodRecord, reason: startretry.StartError, detail: str, client: NodeClient, created: bool
    ) -> None:
        """The engine refused to create or start the container: record the try, say so (pod status,
        a Warning event, the log), and either let a later pass try again or fail the pod."""
        if created and not pod.restart_pending:
            await client.run(client.remove, pod.name)  # the next try creates it afresh
        now = self._clock.now()
        updated, decision = pod_logic.refused(pod, reason, detail, now)
        if isinstance(decision, startretry.GiveUp) and not pod.restart_pending:
            updated = dataclasses.replace(updated, container_removed=True)  # none is left
        await store_io(self._store.save_pod, updated)
        event = EventRecord(
            namespace=pod.namespace,
            kind="Pod",
            name=pod.name,
            uid=pod.uid,
            type="Warning",
            reason="Failed",
            message=pod_logic.event_message(pod, detail),
            first_timestamp=now,
            last_timestamp=now,
        )
        # The engine's words vary between tries (a veth name): one event, counted, with the latest words.
        previous = pod_logic.event_message(pod, pod.message) if pod.reason in startretry.START_ERRORS else None
        await store_io(self._store.record_event, event, previous)
        fields = {"pod": pod.name, "node": pod.node, "owner": pod.owner_name, "reason": reason.value, "error": detail}
        match decision:
            case startretry.Retry(at=at):
                delay = max(0.0, (at - now).total_seconds())
                log.warning("pod_start_refused", attempt=updated.start_attempts, retry_in=delay, **fields)
                self._retry_later(pod.name, delay)
            case startretry.GiveUp(tries=tries):
                log.warning("pod_start_failed", attempts=tries, **fields)
                self.metrics.pod_finished(pod.owner_kind, updated.phase.value, updated.exit_code)
                self._wake()  # count the failed run, plan the replacement

    def _retry_later(self, pod_name: str, delay: float) -> None:
        """Look again when the pod's next try is due (a pass then relaunches it)."""
        old = self._timers.pop(pod_name, None)
        if old is not None:
            old.cancel()
        self._timers[pod_name] = asyncio.get_running_loop().call_later(delay, self._retry_due, pod_name)

    def _retry_due(self, pod_name: str) -> None:
        self._timers.pop(pod_name, None)
        self._look()

    def _fail_start(self, pod: PodRecord, reason: str, message: str) -> None:
        failed = pod_logic.start_failed(pod, reason, message, self._clock.now())
        self._store.save_pod(dataclasses.replace(failed, container_removed=True))
        self._wake()  # plan the replacement now
        log.warning("pod_start_failed", pod=pod.name, node=pod.node, reason=reason, error=message)
        self.metrics.pod_finished(pod.owner_kind, failed.phase.value, failed.exit_code)

    def restart(self, pod: PodRecord) -> None:
        self._spawn(pod, lambda: self._restart(pod))

    async def _restart(self, pod: PodRecord) -> None:
        client = self._monitor.client(pod.node or "")
        if client is None:
            return
        # Start first, then record: a crash in between is seen as a new run, never a lost one.
        try:
            await client.run(client.start, pod.name)
        except nr.ContainerNotFound:
            await store_io(self._store.save_pod, pod_logic.gone(pod, self._clock.now()))
            self._wake()
            return
        except _REFUSED as exc:
            await self._refused(pod, startretry.StartError.RUN, exc.detail, client, created=True)
            return
        await store_io(
            self._store.save_pod,
            dataclasses.replace(
                pod,
                phase=PodPhase.RUNNING,
                restart_pending=False,
                restart_count=pod.restart_count + 1,
                reason="",
                message="",
                exit_code=None,
                start_attempts=0,
            ),
        )
        log.info("pod_restarted", pod=pod.name, node=pod.node, restart_count=pod.restart_count + 1)

    def terminate(self, pod: PodRecord, reason: str, grace: float) -> None:
        """Record the decision, then stop and remove the container."""
        pod = dataclasses.replace(pod, deletion_reason=reason)
        self._store.save_pod(pod)
        self._spawn(pod, lambda: self._terminate(pod, grace))

    async def _terminate(self, pod: PodRecord, grace: float) -> None:
        client = self._monitor.client(pod.node) if pod.node else None
        if client is None or (pod.phase is PodPhase.PENDING and pod.node is None):
            await store_io(self._store.save_pod, pod_logic.gone(pod, self._clock.now()))
            return
        try:
            if not pod.restart_pending:
                await client.run(client.stop, pod.name, grace)
            state = await client.run(client.inspect, pod.name)
        except nr.ContainerNotFound:
            await store_io(self._store.save_pod, pod_logic.gone(pod, self._clock.now()))
            return
        await self._record_exit(pod, state, "Never", client)
        log.info("pod_terminated", pod=pod.name, node=pod.node, reason=pod.deletion_reason)

    def settle(self, pod: PodRecord, restart_policy: str) -> None:
        """A pod's container exited: record the run, then clean up."""
        self._spawn(pod, lambda: self._settle(pod, restart_policy))

    async def _settle(self, pod: PodRecord, restart_policy: str) -> None:
        client = self._monitor.client(pod.node or "")
        if client is None:
            return
        state = pod_logic.told_exit(pod, restart_policy, client.exits.take(pod.name), client.name)
        if state is None:
            try:
                state = await client.run(client.inspect, pod.name)
            except nr.ContainerNotFound:
                self._look()  # removed behind our back (`docker rm -f`): the next pass sees it missing
                return
        if state.exited and restart_policy == "Always" and not pod.deletion_reason:
            # Docker restarts a long-running pod's container itself unless its engine is going down
            # (or someone stopped it): a moment later an engine on its way down no longer answers
            # (NodeUnavailable: the pod is left to node loss handling, kept), one that restarted it
            # tells a running container, and a container still stopped is recorded as a run's end.
            await asyncio.sleep(ENGINE_SHUTDOWN_GRACE)
            try:
                state = await client.run(client.inspect, pod.name)
            except nr.ContainerNotFound:
                self._look()
                return
        if not state.exited:
            if restart_policy == "Always" and state.restart_count > pod.restart_count:
                # Docker restarted it in place (restart policy): count it, as the kubelet would.
                await store_io(self._store.save_pod, pod_logic.on_docker_restart(pod, state))
                log.info("pod_restarted", pod=pod.name, node=pod.node, restart_count=state.restart_count)
            return
        if pod.restart_pending and pod.last_failure_at == state.finished_at:
            return  # this run is already recorded; waiting for its restart
        await self._record_exit(pod, state, restart_policy, client)

    async def _record_exit(
        self, pod: PodRecord, state: nr.ContainerState, restart_policy: str, client: NodeClient
    ) -> None:
        """Record a finished run. A run that ends the pod is recorded before its log is read:
        the engine answers a `logs` call only once it has cleaned up after the exit (tens of ms),
        and the replacement need not wait for that (a serial Job's next pod). Its log is kept
        before the container goes; until then `ctl logs` reads it from the container."""
        now = self._clock.now()
        done = pod_logic.on_exit(pod, state, restart_policy, "", now, timestamped=True)
        if done.phase.terminal:
            await store_io(self._store.save_pod, done)  # committed before the container may go
            self._finished(done)
            tail = await self._log_tail(pod, client)
            if tail:
                done = dataclasses.replace(done, log_tail=tail)
                await store_io(self._store.save_pod, done)
            await client.run(client.remove, pod.name)
            await store_io(self._store.save_pod, dataclasses.replace(done, container_removed=True))
            return
        # It runs again in place: its log must be read before the restart adds to it.
        tail = await self._log_tail(pod, client)
        done = pod_logic.on_exit(pod, state, restart_policy, tail, now, timestamped=True)
        await store_io(self._store.save_pod, done)
        self._finished(done)

    async def _log_tail(self, pod: PodRecord, client: NodeClient) -> str:
        try:
            raw = await client.run(client.logs, pod.name, LOG_TAIL_LINES, timestamps=True)
        except (nr.ContainerNotFound, nr.ContainerConflict):  # gone, or being removed (`docker rm -f`)
            raw = b""
        return logtail.bound(raw)

    def _finished(self, done: PodRecord) -> None:
        log.info(
            "pod_finished",
            pod=done.name,
            node=done.node,
            phase=done.phase.value,
            exit_code=done.exit_code,
            reason=done.reason,
        )
        self.metrics.pod_finished(done.owner_kind, done.phase.value, done.exit_code)
        self._wake()  # plan the replacement now; reading the log and removing the container are off its path

    def remove_container(self, pod: PodRecord) -> None:
        """A finished pod whose container is still there (e.g. after a crash)."""
        self._spawn(pod, lambda: self._remove(pod))

    async def _remove(self, pod: PodRecord) -> None:
        client = self._monitor.client(pod.node or "")
        if client is not None:
            if not pod.log_tail:  # recorded, and the daemon stopped before it kept the log
                tail = await self._log_tail(pod, client)
                if tail:
                    pod = dataclasses.replace(pod, log_tail=tail, log_timestamped=True)
                    await store_io(self._store.save_pod, pod)
            await client.run(client.remove, pod.name)
        await store_io(self._store.save_pod, dataclasses.replace(pod, container_removed=True))

    def remove_orphan(self, node: str, container: nr.ContainerState) -> None:
        key = PodRecord(
            uid="",
            name=container.name,
            namespace="",
            owner_kind="",
            owner_name="",
            owner_uid="",
            node=node,
            created_at=self._clock.now(),
        )

        async def op() -> None:
            client = self._monitor.client(node)
            if client is not None:
                await client.run(client.remove, container.name)
                log.info(
                    "orphan_container_removed",
                    node=node,
                    container=container.name,
                    owner=container.labels.get(nr.OWNER_NAME),
                )

        self._spawn(key, op)
