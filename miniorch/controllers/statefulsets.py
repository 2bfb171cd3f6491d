"""The StatefulSet planner: revision history, then `reconcile.statefulset`; PodSync acts.

Runs inside the workload loop (controllers/workloads.py). Besides planning it records the
replica -> node pins in the object's status (`status.replicaNodes`), forgets the records of
replaced pods (the replacement takes the name), launches pods of an older revision (below a
rollout's partition) from that revision's template, and removes the Docker volumes the
retention policy lets go.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import structlog

from miniorch.config import Config
from miniorch.controllers import containers, podrecords
from miniorch.controllers.daemonsets import save_readiness, selection_of
from miniorch.controllers.lastlisting import LastListing
from miniorch.controllers.models import ModelCache
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.pods import PodRunner
from miniorch.controllers.podsync import Observed, PodSync
from miniorch.nodes import records as nr
from miniorch.nodes.client import NodeClient
from miniorch.reconcile import revisions
from miniorch.reconcile import statefulset as sts_logic
from miniorch.reconcile.actions import Action, CreatePod
from miniorch.spec import pod as pod_spec
from miniorch.spec.enums import RestartPolicy
from miniorch.spec.statefulset import StatefulSet
from miniorch.store.records import ObjectRecord, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)


def new_uid() -> str:
    return str(uuid.uuid4())


def sts_params(obj: ObjectRecord, sts: StatefulSet, update: str, current: str) -> sts_logic.StsParams:
    spec = sts.spec
    retention = spec.persistent_volume_claim_retention_policy
    return sts_logic.StsParams(
        uid=obj.uid,
        namespace=obj.namespace,
        name=obj.name,
        generation=obj.generation,
        replicas=spec.replicas,
        update_hash=update,
        current_hash=current,
        selection=selection_of(spec.template.spec),
        pod_labels=dict(spec.template.metadata.labels or {}),
        pod_annotations=dict(spec.template.metadata.annotations or {}),
        parallel=spec.pod_management_policy == "Parallel",
        on_delete=spec.update_strategy.type == "OnDelete",
        partition=spec.update_strategy.partition,
        min_ready_seconds=spec.min_ready_seconds,
        probe=spec.template.spec.container.readiness_probe is not None,
        claims=tuple(c.metadata.name for c in spec.volume_claim_templates),
        delete_scaled_volumes=retention.when_scaled == "Delete",
    )


def template_of(raw: dict[str, Any], claims: Sequence[str]) -> pod_spec.PodTemplateSpec:
    """A stored revision's pod template, validated as the StatefulSet's own is."""
    spec = {"restartPolicy": RestartPolicy.ALWAYS.value, **(raw.get("spec") or {})}
    token = pod_spec.CLAIM_NAMES.set(frozenset(claims))
    try:
        return pod_spec.PodTemplateSpec.model_validate({**raw, "spec": spec})
    finally:
        pod_spec.CLAIM_NAMES.reset(token)


def _owned_volumes(client: NodeClient, name: str, namespace: str) -> dict[str, dict[str, str]]:
    return client.volumes().list_owned("StatefulSet", name, namespace)


#: Seconds before each retry of a failed volume removal (about 10 minutes in all).
REMOVE_RETRIES = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 120.0, 120.0, 120.0)


class VolumeReaper:
    """Removes replicas' Docker volumes off the event loop; each removal is tracked until it ends."""

    def __init__(self, monitor: NodeMonitor) -> None:
        self._monitor = monitor
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._found: dict[str, dict[int, str]] = {}  # StatefulSet uid -> volumes retained from before

    def remove(self, node: str, volume: str, owner: str) -> None:
        key = (node, volume)
        if key not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._remove(node, volume, owner), name=f"volume:{volume}")
            task.add_done_callback(lambda _t: self._tasks.pop(key, None))
            self._tasks[key] = task

    async def _remove(self, node: str, volume: str, owner: str) -> None:
        """Its replica's pin is already gone from the status, so no later pass asks again: a removal
        that fails (node away, volume still in use) is retried with backoff while the daemon runs."""
        for wait in REMOVE_RETRIES:
            client = self._monitor.client(node)
            if client is not None:
                try:
                    await client.run(_remove_volume, client, volume)
                except nr.NodeError as exc:
                    log.warning(
                        "volume_remove_failed",
                        node=node,
                        volume=volume,
                        statefulset=owner,
                        error=exc.detail,
                        retry_in=wait,
                    )
                else:
                    log.info("volume_removed", node=node, volume=volume, statefulset=owner)
                    return
            await asyncio.sleep(wait)
        log.error("volume_remove_given_up", node=node, volume=volume, statefulset=owner, fix=_by_hand(node, volume))

    def find(self, uid: str, name: str, namespace: str, nodes: Sequence[str]) -> dict[int, str] | None:
        """The ordinal -> node of volumes a StatefulSet of this name left (Retain) before it was
        created again: None while the nodes are being asked (a lookup is started on first call)."""
        if uid in self._found:
            return self._found[uid]
        key = ("", uid)
        if key not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._find(uid, name, namespace, nodes), name=f"find:{name}")
            task.add_done_callback(lambda _t: self._tasks.pop(key, None))
            self._tasks[key] = task
        return None

    async def _find(self, uid: str, name: str, namespace: str, nodes: Sequence[str]) -> None:
        pins: dict[int, str] = {}
        for node in sorted(nodes):
            client = self._monitor.client(node)
            if client is None:
                continue
            try:
                found = await client.run(_owned_volumes, client, name, namespace)
            except nr.NodeError as exc:
                log.warning("volume_lookup_failed", node=node, statefulset=name, error=exc.detail)
                continue
            for labels in found.values():
                index = labels.get(containers.POD_INDEX_LABEL, "")
                if index.isdigit():
                    pins.setdefault(int(index), node)
        if pins:
            log.info("statefulset_volumes_found", statefulset=name, namespace=namespace, replicas=len(pins))
        self._found[uid] = pins

    async def cancel(self, grace: float = 5.0) -> None:
        """Shutdown: lookups are redone after a restart and are dropped; removals in flight get `grace`
        seconds to end (a removal takes milliseconds), and any still left is logged with the fix."""
        removals = {key: t for key, t in self._tasks.items() if key[0]}
        for key, task in self._tasks.items():
            if key not in removals:
                task.cancel()
        if removals:
            await asyncio.wait(list(removals.values()), timeout=grace)
        for (node, volume), task in removals.items():
            if not task.done():
                log.warning("volume_remove_abandoned", node=node, volume=volume, fix=_by_hand(node, volume))
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _remove_volume(client: NodeClient, volume: str) -> None:
    client.volumes().remove(volume)


def _by_hand(node: str, volume: str) -> str:
    return f"remove it by hand: docker -H <node {node}> volume rm {volume}"


class StatefulSetPlanner:
    """Plans StatefulSets with `reconcile.statefulset` and has PodSync carry the plan out."""

    kind = "StatefulSet"

    def __init__(
        self, config: Config, store: Store, pods: PodSync, monitor: NodeMonitor, runner: PodRunner, models: ModelCache
    ) -> None:
        self._store = store
        self._pods = pods
        self._runner = runner
        self._models = models
        self.volumes = VolumeReaper(monitor)
        self._listing = LastListing()

    def apply_config(self, config: Config) -> None:
        """Nothing to take from the config."""

    def begin_pass(self, seen: Observed) -> None:
        """Nothing kept per object beyond the pass (its last listing is the planner's)."""

    async def cancel(self) -> None:
        """Volume removals and lookups in flight: each is redone by a later pass after a restart."""
        await self.volumes.cancel()

    def delete(self, obj: ObjectRecord, seen: Observed) -> None:
        if not self._pods.delete_pods(obj, sts_logic.DELETED):
            return
        sts = self._models.get(obj)
        assert isinstance(sts, StatefulSet)
        if sts.spec.persistent_volume_claim_retention_policy.when_deleted == "Delete":
            claims = [c.metadata.name for c in sts.spec.volume_claim_templates]
            for ordinal, node in sts_logic.pins_of(obj.status).items():
                if node not in seen.ready_nodes:
                    return  # its volumes go when the node is back
                for claim in claims:
                    self.volumes.remove(node, f"{claim}-{obj.name}-{ordinal}", obj.name)
        self._store.delete_pods([p.uid for p in self._store.pods_of(obj.uid)])
        self._store.delete_revisions_of(obj.uid)
        self._store.delete_object(obj.uid)
        log.info("statefulset_deleted", statefulset=obj.name, namespace=obj.namespace)

    def reconcile(self, obj: ObjectRecord, seen: Observed) -> dt.datetime | None:
        now = seen.now
        sts = self._models.get(obj)
        assert isinstance(sts, StatefulSet)
        pods = self._store.pods_of(obj.uid)
        update = self._revision(obj, sts, pods, now)
        current = str(obj.status.get("currentRevision") or update.name)
        params = sts_params(obj, sts, update.name, current)
        pins = sts_logic.pins_of(obj.status)
        if params.claims and "replicaNodes" not in obj.status:  # new: reattach volumes a namesake retained
            found = self.volumes.find(obj.uid, obj.name, obj.namespace, sorted(seen.ready_nodes))
            if found is None:
                return now + dt.timedelta(seconds=0.1)
            pins = {**found, **pins}
        listing = self._listing.containers(seen, pods)
        plan = sts_logic.plan_statefulset(
            params,
            podrecords.views_of(pods),
            frozenset(p.uid for p in pods if p.phase.terminal and p.container_removed),
            podrecords.containers_view(listing),
            seen.nodes,
            seen.load,
            pins,
            now,
            new_uid,
        )
        if plan.forget:
            self._store.delete_pods(list(plan.forget))
        self._mark(plan.marks)  # readiness first, as the DaemonSet planner: the actions follow from it
        self._act(obj, params, plan.actions, [p for p in pods if p.uid not in plan.forget])
        for ev in plan.events:
            self._pods.event(obj, ev, now)
        for node, volume in plan.remove_volumes:
            self.volumes.remove(node, volume, obj.name)
        status = sts_logic.status_to_dict(plan.status, plan.pins)
        if status != obj.status:
            self._store.save_status(obj.uid, status)
        return plan.wake_at

    def _act(
        self, obj: ObjectRecord, params: sts_logic.StsParams, actions: Sequence[Action], pods: Sequence[PodRecord]
    ) -> None:
        """PodSync carries out the plan, but for new pods of an older revision (below the partition):
        those start from that revision's template."""
        rest: list[Action] = []
        for action in actions:
            if isinstance(action, CreatePod) and action.pod.labels.get(revisions.HASH_LABEL) != params.update_hash:
                rev = next(
                    (r for r in self._store.revisions_of(obj.uid) if r.name == action.pod.labels[revisions.HASH_LABEL]),
                    None,
                )
                if rev is not None:
                    pod = podrecords.record_of(action.pod)
                    self._store.save_pod(pod)
                    if pod.node:
                        spec = containers.container_spec(pod, template_of(rev.template, params.claims))
                        self._runner.launch(pod, spec)
                    continue
            rest.append(action)
        self._pods.act(obj, rest, pods)

    def _revision(
        self, obj: ObjectRecord, sts: StatefulSet, pods: Sequence[PodRecord], now: dt.datetime
    ) -> revisions.Revision:
        in_use = {p.labels.get(revisions.HASH_LABEL, "") for p in pods if not p.phase.terminal}
        in_use.add(str(obj.status.get("currentRevision") or ""))
        existing = [podrecords.revision_view(r) for r in self._store.revisions_of(obj.uid)]
        cause = (sts.metadata.annotations or {}).get(revisions.CHANGE_CAUSE, "")
        history = revisions.plan_history(
            obj.uid,
            obj.name,
            obj.manifest.get("spec", {}).get("template", {}),
            cause,
            existing,
            {r.hash for r in existing if r.name in in_use},
            sts.spec.revision_history_limit,
            now,
        )
        if history.save or history.delete:
            self._store.save_revisions(obj.uid, [podrecords.revision_record(r) for r in history.save], history.delete)
            for rev in history.save:
                log.info("statefulset_revision", statefulset=obj.name, revision=rev.revision, hash=rev.hash)
        return history.current

    def _mark(self, marks: Sequence[tuple[str, str | None]]) -> None:
        save_readiness(self._store, self._runner, marks)
