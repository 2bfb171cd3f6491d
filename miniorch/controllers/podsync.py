"""Pods of every kind against their containers: observe, record, adopt, collect.

Kind-agnostic: it reads container labels on every reachable node, brings pod
records up to date (running, exited, vanished, unreachable), adopts containers
whose record was lost, removes orphans, and carries out the planners' actions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from miniorch import clock as clock_mod
from miniorch.controllers import containers, podpolicy
from miniorch.controllers import podrecords as pod_logic
from miniorch.controllers.listing import ContainerLister
from miniorch.controllers.models import ModelCache
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.pods import PodRunner
from miniorch.nodes import records as nr
from miniorch.reconcile import placement
from miniorch.reconcile.actions import Action, BindPod, CreatePod, DeletePod, Event, RestartPod
from miniorch.store.records import ObjectRecord, PodPhase, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)


@dataclass
class Observed:
    """One pass's view of the world, shared by the planners of every kind."""

    now: dt.datetime
    containers: dict[str, dict[str, nr.ContainerState]]  # reachable nodes only: node -> pod name -> container
    live: list[PodRecord]
    owners: dict[str, ObjectRecord]
    nodes: list[placement.NodeView]
    load: placement.Load = field(default_factory=placement.Load)
    listed: bool = True  # False on plan-only passes: `containers` was not listed (empty)
    late: set[str] = field(default_factory=set)  # reachable nodes whose listing did not come in time

    @property
    def ready_nodes(self) -> set[str]:
        return {n.name for n in self.nodes if n.ready}

    @property
    def live_owners(self) -> set[str]:
        return {p.owner_uid for p in self.live}


class SyncStep(enum.Enum):
    """What a pass does about a live pod whose container its node listed."""

    NOTHING = "nothing"
    SETTLE = "settle"  # the run ended: record it (PodRunner.settle)
    LAUNCH = "launch"  # created and never started: start it (when its start retry is due)
    RUNNING = "running"  # running: bring the record up to date


def container_step(pod: PodRecord, container: nr.ContainerState, died: bool) -> SyncStep:
    """The step for a live pod and its listed container; `died`: Docker reported its `die`."""
    if container.exited or (died and not pod.restart_pending):
        # A run already recorded waits for its restart (unless we are stopping it).
        return SyncStep.NOTHING if pod.restart_pending and not pod.deletion_reason else SyncStep.SETTLE
    if container.status == "created" and pod.phase is PodPhase.PENDING and not pod.deletion_reason:
        return SyncStep.LAUNCH
    return SyncStep.RUNNING if container.running else SyncStep.NOTHING


class PodSync:
    def __init__(
        self,
        store: Store,
        monitor: NodeMonitor,
        clock: clock_mod.Clock,
        runner: PodRunner,
        models: ModelCache,
        policies: Mapping[str, podpolicy.OwnerPolicy] = podpolicy.BY_KIND,
    ) -> None:
        """`policies`: each owner kind's wishes for pods whose node is lost or drained."""
        self._store = store
        self._monitor = monitor
        self._clock = clock
        self.runner = runner
        self.models = models
        self._policies = policies
        self._lister = ContainerLister(monitor)

    async def observe(self, kinds: Sequence[str], list_containers: bool = True) -> Observed:
        now = self._clock.now()
        containers, late = await self._lister.list_all() if list_containers else ({}, set())
        live = self._store.live_pods()
        owners = {o.uid: o for o in self._store.objects_to_reconcile(kinds, {p.owner_uid for p in live})}
        running = [p for p in live if p.node and not p.phase.terminal]
        load = placement.Load(Counter(p.node for p in running if p.node))
        requested: dict[str, placement.Resources] = {}
        for p in running:
            assert p.node is not None
            requested[p.node] = requested.get(p.node, placement.Resources()) + placement.Resources(
                p.cpu_request, p.memory_request
            )
        nodes = [
            dataclasses.replace(n, requested=requested.get(n.name, placement.Resources()))
            for n in self._monitor.views()
        ]
        return Observed(now, containers, live, owners, nodes, load, listed=list_containers, late=late)

    # -- records against containers ---------------------------------------
    def sync(self, seen: Observed, died: set[tuple[str, str]]) -> None:
        for pod in seen.live:
            if not self.runner.busy(pod.name):
                self._sync_one(pod, seen, died)

    def _sync_one(self, pod: PodRecord, seen: Observed, died: set[tuple[str, str]]) -> None:
        on_node = seen.containers.get(pod.node or "")
        if pod.phase.terminal:
            if on_node is not None:
                self._collect_finished(pod, on_node)
        elif on_node is None:
            self._sync_unlisted(pod, seen)
        elif (container := on_node.get(pod.name)) is None:
            self._sync_missing(pod, seen)
        else:
            self._sync_container(pod, container, seen, (pod.node, pod.name) in died)

    def _collect_finished(self, pod: PodRecord, on_node: dict[str, nr.ContainerState]) -> None:
        """A finished pod on a node that listed its containers: its container goes."""
        if pod.name in on_node:
            self.runner.remove_container(pod)
        else:
            self._store.save_pod(dataclasses.replace(pod, container_removed=True))

    def _sync_unlisted(self, pod: PodRecord, seen: Observed) -> None:
        """Its node did not list its containers: Unknown, or lost when the node is NotReady and
        the owner kind wants its pods replaced elsewhere."""
        if pod.node in seen.late:
            return  # its node is slow to list: nothing is known either way this pass
        updated = pod_logic.unreachable(pod) if pod.node else pod
        if pod.node and pod.node not in seen.ready_nodes and self.policy(pod).lost_with_node:
            updated = pod_logic.lost(pod, seen.now)
            log.warning("pod_lost", pod=pod.name, node=pod.node, owner=pod.owner_name)
        if updated != pod:
            self._store.save_pod(updated)

    def _sync_missing(self, pod: PodRecord, seen: Observed) -> None:
        """Its node listed its containers and the pod's is not among them."""
        if listed_before_start(pod, seen.now):
            return
        match pod_logic.on_missing(pod, True, False):
            case pod_logic.Missing.CREATE:
                owner = seen.owners.get(pod.owner_uid)
                if owner is not None and pod_logic.due(pod, seen.now):  # refused before: backoff
                    self.launch(pod, owner)
            case pod_logic.Missing.GONE:
                recorded = pod_logic.gone(pod, seen.now)
                self._store.save_pod(recorded)
                log.warning(  # a failure nobody saw happen: say which record and why
                    "pod_container_gone",
                    pod=pod.name,
                    node=pod.node,
                    was=pod.phase.value,
                    recorded=recorded.phase.value,
                    reason=recorded.reason,
                )
            case pod_logic.Missing.WAIT:
                pass

    def _sync_container(self, pod: PodRecord, container: nr.ContainerState, seen: Observed, died: bool) -> None:
        owner = seen.owners.get(pod.owner_uid)
        if pod.deletion_reason and container.running and not pod.phase.terminal:
            # A stop decided but not carried out (`ctl delete pod`, or deferred by a node outage).
            template = self.models.template(owner) if owner is not None else None
            self.runner.terminate(
                pod, pod.deletion_reason, template.spec.termination_grace_period_seconds if template else 30
            )
            return
        match container_step(pod, container, died):
            case SyncStep.SETTLE:
                self.runner.settle(pod, self.restart_policy(owner))
            case SyncStep.LAUNCH:
                if owner is not None and pod_logic.due(pod, seen.now):  # created, never started
                    self.launch(pod, owner)
            case SyncStep.RUNNING:
                updated = pod_logic.on_running(pod, container, seen.now)
                if updated != pod:
                    if pod.restart_pending:
                        updated = dataclasses.replace(updated, restart_count=pod.restart_count + 1)
                    self._store.save_pod(updated)
            case SyncStep.NOTHING:
                pass

    def policy(self, pod: PodRecord) -> podpolicy.OwnerPolicy:
        return podpolicy.of(self._policies, pod.owner_kind)

    def settle_died(self, seen: Observed, died: set[tuple[str, str]]) -> None:
        """Settle the pods whose container Docker reported dead, without listing containers:
        the settle inspects the one container itself."""
        for pod in seen.live:
            if (pod.node, pod.name) in died and not (
                pod.phase.terminal or pod.restart_pending or self.runner.busy(pod.name)
            ):
                self.runner.settle(pod, self.restart_policy(seen.owners.get(pod.owner_uid)))

    def restart_policy(self, owner: ObjectRecord | None) -> str:
        template = self.models.template(owner) if owner is not None else None
        return (template.spec.restart_policy if template else None) or "Never"

    def collect_orphans(self, seen: Observed) -> None:
        known = {(p.node, p.name) for p in seen.live}
        for node, found in seen.containers.items():
            for name, container in found.items():
                if (node, name) in known or self.runner.busy(name):
                    continue
                record = self._store.get_pod(container.labels.get(nr.NAMESPACE, "default"), name)
                if record is not None and record.node == node:
                    if record.phase.terminal:
                        self.runner.remove_container(record)
                    continue
                owner_uid = container.labels.get(nr.OWNER_UID, "")
                owner = seen.owners.get(owner_uid) or self._store.get_object_by_uid(owner_uid)
                if owner is None or owner.deleting:
                    self.runner.remove_orphan(node, container)
                    continue
                self._store.save_pod(adopt(node, container, owner, seen.now))
                log.info("pod_adopted", pod=name, node=node, owner=owner.name)

    def drain(self, node: str) -> list[str]:
        """Evict the pods on `node` whose owner kind wants them evicted (DisruptionTarget, not
        counted); returns those still there."""
        left = []
        for pod in self._store.live_pods():
            if pod.node != node or pod.phase.terminal or not self.policy(pod).evicted_by_drain:
                continue
            left.append(pod.name)
            if not pod.deletion_reason and not self.runner.busy(pod.name):
                owner = self._store.get_object_by_uid(pod.owner_uid)
                template = self.models.template(owner) if owner else None
                grace = template.spec.termination_grace_period_seconds if template else 30
                self.runner.terminate(pod, pod_logic.EVICTED, grace)
                log.info("pod_evicted", pod=pod.name, node=node)
        return left

    # -- acting for planners ----------------------------------------------
    def launch(self, pod: PodRecord, owner: ObjectRecord) -> None:
        template = self.models.template(owner)
        if template is not None:
            self.runner.launch(pod, containers.container_spec(pod, template))

    def act(self, owner: ObjectRecord, actions: Sequence[Action], pods: Sequence[PodRecord]) -> None:
        """Carry out a plan; actions on pods with an operation in flight wait for the next pass."""
        if not actions:
            return  # most passes of a big Job: nothing to do, and no index of its thousands of pods
        by_uid = {p.uid: p for p in pods}
        template = self.models.template(owner)
        assert template is not None
        grace = template.spec.termination_grace_period_seconds
        for action in actions:
            match action:
                case CreatePod(pod=view):
                    pod = pod_logic.record_of(view)
                    self._store.save_pod(pod)  # the intent is durable before the container exists
                    log.debug("pod_planned", pod=pod.name, node=pod.node, owner=owner.name)
                    if pod.node:
                        self.runner.launch(pod, containers.container_spec(pod, template))
                case BindPod(pod_uid=uid, node=node):
                    if not self.runner.busy(by_uid[uid].name):
                        bound = dataclasses.replace(by_uid[uid], node=node, reason="", message="")
                        self._store.save_pod(bound)
                        self.runner.launch(bound, containers.container_spec(bound, template))
                case RestartPod(pod_uid=uid):
                    if not self.runner.busy(by_uid[uid].name):
                        self.runner.restart(by_uid[uid])
                case DeletePod(pod_uid=uid, reason=reason):
                    if not self.runner.busy(by_uid[uid].name):
                        self.runner.terminate(by_uid[uid], reason, grace)

    def delete_pods(self, owner: ObjectRecord, reason: str) -> bool:
        """Stop and remove every container of `owner` on reachable nodes; True once none is left."""
        template = self.models.template(owner)
        grace = template.spec.termination_grace_period_seconds if template else 30
        pending = False
        for pod in self._store.pods_of(owner.uid):
            if pod.container_removed:
                continue
            if pod.node and not self._monitor.reachable(pod.node):
                continue  # its container is collected as an orphan when the node returns
            pending = True
            if not self.runner.busy(pod.name):
                if pod.phase.terminal:
                    self.runner.remove_container(pod)
                else:
                    self.runner.terminate(pod, reason, grace)
        return not pending

    def event(self, obj: ObjectRecord, ev: Event, now: dt.datetime) -> None:
        self._store.record_object_event(obj, ev.type, ev.reason, ev.message, now)


def listed_before_start(pod: PodRecord, listed_at: dt.datetime) -> bool:
    """The pass's listing was asked for before the pod's start was recorded (its launch ended
    while the engine answered): the container may simply be too new for it, never "removed"."""
    return pod.phase is PodPhase.RUNNING and pod.started_at is not None and pod.started_at >= listed_at


def adopt(node: str, container: nr.ContainerState, owner: ObjectRecord, now: dt.datetime) -> PodRecord:
    """Rebuild a pod record from a container's labels (the store had lost it), created `now`."""
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
        created_at=now,
        completion_index=int(index) if index is not None else None,
        labels=labels,
    )
