"""Pods of every kind against their containers: observe, record, adopt, collect.

Kind-agnostic: it reads container labels on every reachable node, brings pod
records up to date (running, exited, vanished, unreachable), adopts containers
whose record was lost, removes orphans, and carries out the planners' actions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from miniorch import clock as clock_mod
from miniorch.controllers import containers
from miniorch.controllers import podrecords as pod_logic
from miniorch.controllers.models import ModelCache
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.pods import PodRunner
from miniorch.nodes import records as nr
from miniorch.reconcile import placement
from miniorch.reconcile.actions import Action, BindPod, CreatePod, DeletePod, Event, RestartPod
from miniorch.store.records import ObjectRecord, PodPhase, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

#: How long a pass waits for one node's container listing: LIST_WAIT_FACTOR times what its
#: listings usually take, within these bounds. A node that has not answered by then is left
#: out of this pass (its pods stay as they are), so a hung engine never slows the work on the
#: other nodes. While that listing is in flight no other is sent (no pile-up); its late answer
#: is dropped, as it may predate pods started since.
LIST_WAIT_SECONDS = (0.25, 1.0)
LIST_WAIT_FACTOR = 4.0


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


class PodSync:
    def __init__(
        self, store: Store, monitor: NodeMonitor, clock: clock_mod.Clock, runner: PodRunner, models: ModelCache
    ) -> None:
        self._store = store
        self._monitor = monitor
        self._clock = clock
        self.runner = runner
        self.models = models
        self._listing: dict[str, asyncio.Future[list[nr.ContainerState]]] = {}  # node -> listing in flight
        self._list_seconds: dict[str, float] = {}  # node -> moving average of its listings' durations

    async def observe(self, kinds: Sequence[str], list_containers: bool = True) -> Observed:
        now = self._clock.now()
        containers, late = await self._list_containers() if list_containers else ({}, set())
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

    async def _list_containers(self) -> tuple[dict[str, dict[str, nr.ContainerState]], set[str]]:
        """Containers of every reachable node that answers in time (see LIST_WAIT_SECONDS), and
        the reachable nodes that did not (late)."""
        asked: dict[str, asyncio.Future[list[nr.ContainerState]]] = {}
        late: set[str] = set()
        for name in list(self._monitor.nodes):
            client = self._monitor.client(name)
            if client is None or not self._monitor.reachable(name):
                continue
            if name in self._listing:  # an earlier pass's listing still waits for an answer
                late.add(name)
                continue
            listing: asyncio.Future[list[nr.ContainerState]] = asyncio.ensure_future(client.run(client.list_managed))
            self._listing[name] = asked[name] = listing
            listing.add_done_callback(functools.partial(self._listed, name, time.monotonic()))
        await self._wait_listings(asked)
        out: dict[str, dict[str, nr.ContainerState]] = {}
        for name, listing in asked.items():
            if not listing.done():
                late.add(name)
                log.warning("node_list_slow", node=name, waited=round(self._list_wait(name), 2))
                continue
            error = listing.exception()
            if isinstance(error, nr.NodeUnavailable):
                log.warning("node_list_failed", node=name, error=error.detail)
            elif error is not None:
                raise error
            else:
                out[name] = {c.pod: c for c in listing.result()}
        return out, late

    def _list_wait(self, name: str) -> float:
        low, high = LIST_WAIT_SECONDS
        return min(high, max(low, LIST_WAIT_FACTOR * self._list_seconds.get(name, high)))

    async def _wait_listings(self, asked: dict[str, asyncio.Future[list[nr.ContainerState]]]) -> None:
        """Until every listing is in or past its node's own wait."""
        start = time.monotonic()
        pending = dict(asked)
        while pending:
            waits = {name: self._list_wait(name) - (time.monotonic() - start) for name in pending}
            if min(waits.values()) <= 0:
                pending = {n: f for n, f in pending.items() if waits[n] > 0}
                continue
            await asyncio.wait(pending.values(), timeout=min(waits.values()), return_when=asyncio.FIRST_COMPLETED)
            pending = {n: f for n, f in pending.items() if not f.done()}

    def _listed(self, name: str, started: float, listing: asyncio.Future[list[nr.ContainerState]]) -> None:
        self._listing.pop(name, None)
        if listing.cancelled():
            return
        if listing.exception() is None:  # a failure was seen as lateness or a failed listing already
            took = time.monotonic() - started
            self._list_seconds[name] = 0.8 * self._list_seconds.get(name, took) + 0.2 * took

    # -- records against containers ---------------------------------------
    def sync(self, seen: Observed, died: set[tuple[str, str]]) -> None:
        for pod in seen.live:
            if not self.runner.busy(pod.name):
                self._sync_one(pod, seen, died)

    def _sync_one(self, pod: PodRecord, seen: Observed, died: set[tuple[str, str]]) -> None:
        owner = seen.owners.get(pod.owner_uid)
        on_node = seen.containers.get(pod.node or "")
        if pod.phase.terminal:
            if on_node is not None:
                if pod.name in on_node:
                    self.runner.remove_container(pod)
                else:
                    self._store.save_pod(dataclasses.replace(pod, container_removed=True))
            return
        if on_node is None:
            if pod.node in seen.late:
                return  # its node is slow to list: nothing is known either way this pass
            updated = pod_logic.unreachable(pod) if pod.node else pod
            if pod.node and pod.owner_kind == "Job" and pod.node not in seen.ready_nodes:
                updated = pod_logic.lost(pod, seen.now)
                log.warning("pod_lost", pod=pod.name, node=pod.node, owner=pod.owner_name)
            if updated != pod:
                self._store.save_pod(updated)
            return
        container = on_node.get(pod.name)
        if container is None:
            match pod_logic.on_missing(pod, True, False):
                case pod_logic.Missing.CREATE:
                    if owner is not None and pod_logic.due(pod, seen.now):  # refused before: backoff
                        self.launch(pod, owner)
                case pod_logic.Missing.GONE:
                    self._store.save_pod(pod_logic.gone(pod, seen.now))
                case pod_logic.Missing.WAIT:
                    pass
        elif container.exited or ((pod.node, pod.name) in died and not pod.restart_pending):
            if not (pod.restart_pending and not pod.deletion_reason):
                self.runner.settle(pod, self.restart_policy(owner))
        elif container.status == "created" and pod.phase is PodPhase.PENDING and not pod.deletion_reason:
            if owner is not None and pod_logic.due(pod, seen.now):  # created, never started
                self.launch(pod, owner)
        elif container.running:
            updated = pod_logic.on_running(pod, container, seen.now)
            if updated != pod:
                if pod.restart_pending:
                    updated = dataclasses.replace(updated, restart_count=pod.restart_count + 1)
                self._store.save_pod(updated)

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
                self._store.save_pod(adopt(node, container, owner))
                log.info("pod_adopted", pod=name, node=node, owner=owner.name)

    # -- acting for planners ----------------------------------------------
    def launch(self, pod: PodRecord, owner: ObjectRecord) -> None:
        template = self.models.template(owner)
        if template is not None:
            self.runner.launch(pod, containers.container_spec(pod, template))

    def act(self, owner: ObjectRecord, actions: Sequence[Action], pods: Sequence[PodRecord]) -> None:
        """Carry out a plan; actions on pods with an operation in flight wait for the next pass."""
        by_uid = {p.uid: p for p in pods}
        template = self.models.template(owner)
        assert template is not None
        grace = template.spec.termination_grace_period_seconds
        for action in actions:
            match action:
                case CreatePod(pod=view):
                    pod = pod_logic.record_of(view)
                    self._store.save_pod(pod)  # the intent is durable before the container exists
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


def adopt(node: str, container: nr.ContainerState, owner: ObjectRecord) -> PodRecord:
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
