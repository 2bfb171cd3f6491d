"""The Job controller: observe containers and records, plan, act, record.

Level-triggered: every pass re-reads container labels on all nodes and the
store, so a restart after SIGTERM or kill -9 simply carries on. Docker events
and finished operations only wake the loop early.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import secrets
import string
import uuid
from collections import Counter

import structlog

from miniorch import clock as clock_mod
from miniorch.config import Config
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.pods import PodRunner
from miniorch.nodes import records as nr
from miniorch.reconcile import job as job_logic
from miniorch.reconcile import placement, podspec
from miniorch.reconcile import pods as pod_logic
from miniorch.reconcile.actions import BindPod, CreatePod, DeletePod, Event, RestartPod
from miniorch.spec import job as job_spec
from miniorch.spec import loader
from miniorch.store.records import EventRecord, ObjectRecord, PodPhase, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

RESYNC_SECONDS = 2.0
_ALPHABET = string.ascii_lowercase + string.digits


def new_pod_id() -> tuple[str, str]:
    return "".join(secrets.choice(_ALPHABET) for _ in range(5)), str(uuid.uuid4())


def parse_job(obj: ObjectRecord) -> job_spec.Job:
    manifest = loader.parse_object(obj.manifest, source=f"job/{obj.name}")
    assert isinstance(manifest.obj, job_spec.Job)
    return manifest.obj


def job_params(obj: ObjectRecord, job: job_spec.Job) -> job_logic.JobParams:
    spec = job.spec
    pod = spec.template.spec
    terms: tuple[tuple[placement.MatchExpression, ...], ...] = ()
    req = (
        pod.affinity
        and pod.affinity.node_affinity
        and pod.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    )
    if req:
        terms = tuple(
            tuple(placement.MatchExpression(e.key, e.operator, tuple(e.values)) for e in t.match_expressions)
            for t in req.node_selector_terms
        )
    return job_logic.JobParams(
        uid=obj.uid,
        namespace=obj.namespace,
        name=obj.name,
        parallelism=spec.parallelism if spec.parallelism is not None else 1,
        completions=spec.completions,
        backoff_limit=spec.backoff_limit,
        restart_policy=pod.restart_policy or "Never",
        suspend=spec.suspend,
        selection=placement.NodeSelection(dict(pod.node_selector), terms),
        pod_labels=dict(spec.template.metadata.labels or {}),
        pod_annotations=dict(spec.template.metadata.annotations or {}),
    )


class JobController:
    def __init__(self, config: Config, store: Store, monitor: NodeMonitor, clock: clock_mod.Clock) -> None:
        self._store = store
        self._monitor = monitor
        self._clock = clock
        self._wake = asyncio.Event()
        self._wake_at: dt.datetime | None = None
        self._died: set[tuple[str, str]] = set()
        self.runner = PodRunner(store, monitor, clock, self.wake)
        self._parsed: dict[tuple[str, int], job_spec.Job] = {}
        self.apply_config(config)

    def apply_config(self, config: Config) -> None:
        self._timing = job_logic.Timing(
            config.timing.job_backoff_initial_seconds, config.timing.job_backoff_max_seconds
        )

    def job_model(self, obj: ObjectRecord) -> job_spec.Job:
        """The validated model of a stored Job, cached by (uid, generation): specs only change with generation."""
        key = (obj.uid, obj.generation)
        cached = self._parsed.get(key)
        if cached is None:
            if len(self._parsed) > 4096:
                self._parsed.clear()
            cached = self._parsed[key] = parse_job(obj)
        return cached

    def wake(self) -> None:
        self._wake.set()

    def docker_event(self, node: str, action: str, pod: str) -> None:
        """A container changed; `docker ps` may lag behind a `die`, so remember it."""
        if action in ("die", "oom", "kill", "stop"):
            self._died.add((node, pod))
        self._wake.set()

    async def run(self) -> None:
        while True:
            timeout = RESYNC_SECONDS
            if self._wake_at is not None:
                timeout = max(0.0, min(timeout, (self._wake_at - self._clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            self._wake.clear()
            if self.runner.failures:
                raise self.runner.failures[0]
            await self.reconcile_once()

    # -- one pass ---------------------------------------------------------
    async def reconcile_once(self) -> None:
        now = self._clock.now()
        containers = await self._observe()
        live = self._store.live_pods()
        live_owners = {p.owner_uid for p in live}
        objects = {o.uid: o for o in self._store.objects_to_reconcile("Job", live_owners)}
        died, self._died = self._died, set()
        self._sync_pods(live, containers, objects, now, died)
        self._collect_orphans(live, containers, objects)
        self._wake_at = None
        load = Counter(p.node for p in live if p.node and not p.phase.terminal)
        nodes = self._monitor.views()
        for obj in objects.values():
            if obj.deleting:
                self._delete_job(obj)
            elif not _finished(obj) or obj.uid in live_owners:
                self._reconcile_job(obj, nodes, load, now)

    async def _observe(self) -> dict[str, dict[str, nr.ContainerState]]:
        """Containers by node and pod name, for nodes that answered now."""

        async def one(name: str) -> tuple[str, dict[str, nr.ContainerState] | None]:
            client = self._monitor.client(name)
            if client is None or not self._monitor.reachable(name):
                return name, None
            try:
                found = await asyncio.to_thread(client.list_managed)
            except nr.NodeUnavailable as exc:
                log.warning("node_list_failed", node=name, error=exc.detail)
                return name, None
            return name, {c.pod: c for c in found}

        results = await asyncio.gather(*(one(n) for n in list(self._monitor.nodes)))
        return {name: found for name, found in results if found is not None}

    def _sync_pods(
        self,
        live: list[PodRecord],
        containers: dict[str, dict[str, nr.ContainerState]],
        objects: dict[str, ObjectRecord],
        now: dt.datetime,
        died: set[tuple[str, str]],
    ) -> None:
        for pod in live:
            if self.runner.busy(pod.name):
                continue
            owner = objects.get(pod.owner_uid)
            on_node = containers.get(pod.node or "")
            if pod.phase.terminal:
                if on_node is None:
                    continue
                if pod.name in on_node:
                    self.runner.remove_container(pod)
                else:
                    self._store.save_pod(dataclasses.replace(pod, container_removed=True))
                continue
            if on_node is None:
                updated = pod_logic.unreachable(pod) if pod.node else pod
                if updated != pod:
                    self._store.save_pod(updated)
                continue
            container = on_node.get(pod.name)
            if container is None:
                match pod_logic.on_missing(pod, True, False):
                    case pod_logic.Missing.CREATE:
                        if owner is not None:
                            self._launch(pod, owner)
                    case pod_logic.Missing.GONE:
                        self._store.save_pod(pod_logic.gone(pod, now))
                    case pod_logic.Missing.WAIT:
                        pass
            elif container.exited or ((pod.node, pod.name) in died and not pod.restart_pending):
                if not (pod.restart_pending and not pod.deletion_reason):
                    policy = _restart_policy(owner)
                    self.runner.settle(pod, policy)
            elif container.status == "created" and pod.phase is PodPhase.PENDING and not pod.deletion_reason:
                if owner is not None:  # created, never started (the daemon died in between)
                    self._launch(pod, owner)
            elif container.running:
                updated = pod_logic.on_running(pod, container, now)
                if updated != pod:
                    if pod.restart_pending:
                        updated = dataclasses.replace(updated, restart_count=pod.restart_count + 1)
                    self._store.save_pod(updated)

    def _collect_orphans(
        self,
        live: list[PodRecord],
        containers: dict[str, dict[str, nr.ContainerState]],
        objects: dict[str, ObjectRecord],
    ) -> None:
        known = {(p.node, p.name) for p in live}
        for node, found in containers.items():
            for name, container in found.items():
                if (node, name) in known or self.runner.busy(name):
                    continue
                record = self._store.get_pod(container.labels.get(nr.NAMESPACE, "default"), name)
                if record is not None and record.node == node:
                    if record.phase.terminal:
                        self.runner.remove_container(record)
                    continue
                owner_uid = container.labels.get(nr.OWNER_UID, "")
                owner = objects.get(owner_uid) or self._store.get_object_by_uid(owner_uid)
                if owner is None or owner.deleting:
                    self.runner.remove_orphan(node, container)
                    continue
                adopted = _adopt(node, container, owner)
                self._store.save_pod(adopted)
                log.info("pod_adopted", pod=name, node=node, owner=owner.name)

    def _launch(self, pod: PodRecord, owner: ObjectRecord) -> None:
        job = self.job_model(owner)
        spec = podspec.container_spec(pod, job.spec.template)
        self.runner.launch(pod, spec)

    def _delete_job(self, obj: ObjectRecord) -> None:
        pods = self._store.pods_of(obj.uid)
        grace = self.job_model(obj).spec.template.spec.termination_grace_period_seconds
        pending = False
        for pod in pods:
            if pod.container_removed:
                continue
            if pod.node and not self._monitor.reachable(pod.node):
                continue  # its container is collected as an orphan when the node returns
            pending = True
            if not self.runner.busy(pod.name):
                if pod.phase.terminal:
                    self.runner.remove_container(pod)
                else:
                    self.runner.terminate(pod, "JobDeleted", grace)
        if not pending:
            self._store.delete_object(obj.uid)
            log.info("job_deleted", job=obj.name, namespace=obj.namespace)

    def _reconcile_job(
        self, obj: ObjectRecord, nodes: list[placement.NodeView], load: Counter[str], now: dt.datetime
    ) -> None:
        job = self.job_model(obj)
        params = job_params(obj, job)
        pods = self._store.pods_of(obj.uid)
        previous = job_logic.status_from_dict(obj.status)
        plan = job_logic.plan_job(params, previous, pods, nodes, load, now, self._timing, new_pod_id)
        by_uid = {p.uid: p for p in pods}
        grace = job.spec.template.spec.termination_grace_period_seconds
        for action in plan.actions:
            match action:
                case CreatePod(pod=pod):
                    self._store.save_pod(pod)  # the intent is durable before the container exists
                    if pod.node:
                        self.runner.launch(pod, podspec.container_spec(pod, job.spec.template))
                case BindPod(pod_uid=uid, node=node):
                    if not self.runner.busy(by_uid[uid].name):
                        bound = dataclasses.replace(by_uid[uid], node=node, reason="", message="")
                        self._store.save_pod(bound)
                        self.runner.launch(bound, podspec.container_spec(bound, job.spec.template))
                case RestartPod(pod_uid=uid):
                    if not self.runner.busy(by_uid[uid].name):
                        self.runner.restart(by_uid[uid])
                case DeletePod(pod_uid=uid, reason=reason):
                    if not self.runner.busy(by_uid[uid].name):
                        self.runner.terminate(by_uid[uid], reason, grace)
        for ev in plan.events:
            self._event(obj, ev, now)
        status = job_logic.status_to_dict(plan.status)
        if status != obj.status:
            self._store.save_status(obj.uid, status, finished=plan.status.finished)
            if plan.status.finished and not job_logic.status_from_dict(obj.status).finished:
                log.info(
                    "job_finished",
                    job=obj.name,
                    namespace=obj.namespace,
                    succeeded=plan.status.succeeded,
                    failed=plan.status.failed,
                    condition=plan.status.conditions[-1].type,
                )
        if plan.wake_at and (self._wake_at is None or plan.wake_at < self._wake_at):
            self._wake_at = plan.wake_at

    def _event(self, obj: ObjectRecord, ev: Event, now: dt.datetime) -> None:
        self._store.record_event(
            EventRecord(
                obj.namespace,
                obj.kind,
                obj.name,
                obj.uid,
                ev.type,
                ev.reason,
                ev.message,
                first_timestamp=now,
                last_timestamp=now,
            )
        )


def _finished(obj: ObjectRecord) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in obj.status.get("conditions", [])
    )


def _restart_policy(owner: ObjectRecord | None) -> str:
    if owner is None:
        return "Never"
    return str(owner.manifest.get("spec", {}).get("template", {}).get("spec", {}).get("restartPolicy", "Never"))


def _adopt(node: str, container: nr.ContainerState, owner: ObjectRecord) -> PodRecord:
    """Rebuild a pod record from a container's labels (the store had lost it)."""
    labels = {k: v for k, v in container.labels.items() if not k.startswith("miniorch.io/")}
    index = container.labels.get(nr.COMPLETION_INDEX)
    return PodRecord(
        uid=container.labels.get(nr.POD_UID) or str(uuid.uuid4()),
        name=container.name,
        namespace=owner.namespace,
        owner_kind=owner.kind,
        owner_name=owner.name,
        owner_uid=owner.uid,
        node=node,
        phase=PodPhase.RUNNING if container.running else PodPhase.PENDING,
        completion_index=int(index) if index is not None else None,
        labels=labels,
    )
