"""The DaemonSet planner: revision history, then `reconcile.daemonset`; PodSync acts.

Runs inside the workload loop (controllers/workloads.py). Besides planning it
records pod readiness marks, prunes old pod records and revisions, and stops
DaemonSet containers on nodes that leave the config (`release_nodes`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import secrets
import string
import uuid
from collections.abc import Collection, Sequence

import structlog

from miniorch.config import Config
from miniorch.controllers import podrecords
from miniorch.controllers.lastlisting import LastListing
from miniorch.controllers.models import ModelCache
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.pods import PodRunner
from miniorch.controllers.podsync import Observed, PodSync
from miniorch.reconcile import daemonset as ds_logic
from miniorch.reconcile import placement, revisions
from miniorch.reconcile.views import READY_SINCE
from miniorch.spec import pod as pod_spec
from miniorch.spec.workloads import DaemonSet
from miniorch.store.records import ObjectRecord, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

_ALPHABET = string.ascii_lowercase + string.digits
KEEP_FINISHED_PER_NODE = 3  # finished pod records kept per node (logs of recent crashes)


def new_pod_id() -> tuple[str, str]:
    return "".join(secrets.choice(_ALPHABET) for _ in range(5)), str(uuid.uuid4())


def selection_of(spec: pod_spec.PodSpec) -> placement.NodeSelection:
    """nodeSelector and required node affinity terms of a pod spec."""
    affinity = spec.affinity.node_affinity if spec.affinity else None
    required = affinity.required_during_scheduling_ignored_during_execution if affinity else None
    terms = tuple(
        tuple(placement.MatchExpression(e.key, e.operator, tuple(e.values)) for e in term.match_expressions)
        for term in (required.node_selector_terms if required else [])
    )
    return placement.NodeSelection(dict(spec.node_selector), terms)


def ds_params(obj: ObjectRecord, ds: DaemonSet, hash_: str) -> ds_logic.DsParams:
    spec = ds.spec
    strategy = spec.update_strategy
    rolling = strategy.rolling_update
    return ds_logic.DsParams(
        uid=obj.uid,
        namespace=obj.namespace,
        name=obj.name,
        generation=obj.generation,
        hash=hash_,
        selection=selection_of(spec.template.spec),
        pod_labels=dict(spec.template.metadata.labels or {}),
        pod_annotations=dict(spec.template.metadata.annotations or {}),
        strategy=strategy.type,
        max_unavailable=rolling.max_unavailable if rolling else 1,
        max_surge=rolling.max_surge if rolling else 0,
        min_ready_seconds=spec.min_ready_seconds,
        probe=spec.template.spec.container.readiness_probe is not None,
    )


class DaemonSetPlanner:
    """Plans DaemonSets with `reconcile.daemonset` and has PodSync carry the plan out."""

    kind = "DaemonSet"

    def __init__(
        self, config: Config, store: Store, pods: PodSync, monitor: NodeMonitor, runner: PodRunner, models: ModelCache
    ) -> None:
        self._store = store
        self._pods = pods
        self._runner = runner
        self._models = models
        self._monitor = monitor
        self._timing = ds_logic.Timing()
        self._listing = LastListing()
        self._releasing: set[str] = set()  # nodes leaving the config: no new pods there
        self.apply_config(config)

    def apply_config(self, config: Config) -> None:
        """Nothing to take from the config: the DaemonSet backoff is fixed (DESIGN 4.6)."""

    def begin_pass(self, seen: Observed) -> None:
        """Nothing kept per object beyond the pass (its last listing is the planner's)."""

    async def cancel(self) -> None:
        """Nothing runs off the pass: a DaemonSet's work is the pods' (PodRunner)."""

    def delete(self, obj: ObjectRecord, seen: Observed) -> None:
        if self._pods.delete_pods(obj, "DaemonSetDeleted"):
            self._store.delete_revisions_of(obj.uid)
            self._store.delete_object(obj.uid)
            log.info("daemonset_deleted", daemonset=obj.name, namespace=obj.namespace)

    def reconcile(self, obj: ObjectRecord, seen: Observed) -> dt.datetime | None:
        now = seen.now
        ds = self._models.get(obj)
        assert isinstance(ds, DaemonSet)
        pods = self._store.pods_of(obj.uid, with_log=False)  # planning reads no logs (up to 256 KiB a pod, every pass)
        current = self._revision(obj, ds, pods, now)
        containers = self._listing.containers(seen, pods)
        views = [n for n in seen.nodes if n.name not in self._releasing]
        plan = ds_logic.plan_daemonset(
            ds_params(obj, ds, current.hash),
            podrecords.views_of(pods),
            views,
            podrecords.containers_view(containers),
            now,
            self._timing,
            new_pod_id,
        )
        # Readiness first: a surge's old pod is stopped because its replacement is ready, and a
        # reader must never see the old one going while the new one is not yet marked ready.
        self._mark(plan.marks)
        self._pods.act(obj, plan.actions, pods)
        for ev in plan.events:
            self._pods.event(obj, ev, now)
        status = ds_logic.status_to_dict(plan.status)
        if status != obj.status:
            self._store.save_status(obj.uid, status)
            done = plan.status.updated == plan.status.available == plan.status.desired
            if done and obj.status.get("updatedNumberScheduled") != plan.status.updated:
                log.info("daemonset_rolled_out", daemonset=obj.name, namespace=obj.namespace, nodes=plan.status.desired)
        self._prune(pods, now)
        return plan.wake_at

    def _revision(
        self, obj: ObjectRecord, ds: DaemonSet, pods: Sequence[PodRecord], now: dt.datetime
    ) -> revisions.Revision:
        in_use = {p.labels.get(revisions.HASH_LABEL, "") for p in pods if not p.phase.terminal}
        cause = (ds.metadata.annotations or {}).get(revisions.CHANGE_CAUSE, "")
        history = revisions.plan_history(
            obj.uid,
            obj.name,
            obj.manifest.get("spec", {}).get("template", {}),
            cause,
            [podrecords.revision_view(r) for r in self._store.revisions_of(obj.uid)],
            in_use,
            ds.spec.revision_history_limit,
            now,
        )
        if history.save or history.delete:
            self._store.save_revisions(obj.uid, [podrecords.revision_record(r) for r in history.save], history.delete)
            for rev in history.save:
                log.info("daemonset_revision", daemonset=obj.name, revision=rev.revision, hash=rev.hash)
        return history.current

    def _mark(self, marks: Sequence[tuple[str, str | None]]) -> None:
        save_readiness(self._store, self._runner, marks)

    def _prune(self, pods: Sequence[PodRecord], now: dt.datetime) -> None:
        """Forget finished pods beyond the newest few per node once the backoff window is over."""
        window = dt.timedelta(seconds=self._timing.failure_window)
        finished: dict[str | None, list[PodRecord]] = {}
        for pod in pods:
            if pod.phase.terminal and pod.container_removed:
                finished.setdefault(pod.node, []).append(pod)
        old = []
        for node_pods in finished.values():
            node_pods.sort(key=lambda p: p.created_at, reverse=True)
            old += [p.uid for p in node_pods[KEEP_FINISHED_PER_NODE:] if now - (p.finished_at or p.created_at) > window]
        if old:
            self._store.delete_pods(old)

    async def release_nodes(self, names: Collection[str], timeout: float = 60.0) -> None:
        """Nodes leaving the config: stop their DaemonSet pods while they can still be reached.

        Goes through the PodRunner (logs and exit codes are recorded as for any stop),
        waiting for operations in flight first; gives up after `timeout` seconds.
        """
        pods = [
            p
            for p in self._store.live_pods()
            if p.owner_kind == self.kind
            and p.node in names
            and not p.phase.terminal
            and self._monitor.reachable(p.node or "")
        ]
        if not pods:
            return
        self._releasing |= set(names)
        try:
            await self._stop_all(pods, timeout)
        finally:
            self._releasing -= set(names)

    async def _stop_all(self, pods: Sequence[PodRecord], timeout: float) -> None:
        runner = self._runner
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        todo = {p.uid for p in pods}
        while loop.time() < deadline:
            for pod in pods:
                if pod.uid in todo and not runner.busy(pod.name):
                    todo.discard(pod.uid)
                    fresh = self._store.get_pod_by_uid(pod.uid)
                    owner = self._store.get_object_by_uid(pod.owner_uid)
                    template = self._models.template(owner) if owner is not None else None
                    if fresh is not None and not fresh.phase.terminal:
                        grace = template.spec.termination_grace_period_seconds if template else 30
                        runner.terminate(fresh, "NodeRemoved", grace)
                        log.info("pod_stopping_node_removed", pod=pod.name, node=pod.node, owner=pod.owner_name)
            if not todo and not any(runner.busy(p.name) for p in pods):
                return
            await asyncio.sleep(0.05)
        log.warning("node_release_timed_out", pods=sorted(p.name for p in pods if runner.busy(p.name)))


def save_readiness(store: Store, runner: PodRunner, marks: Sequence[tuple[str, str | None]]) -> None:
    """Persist readiness marks on their pods (re-read: an operation may have changed one since);
    the DaemonSet and StatefulSet controllers share them."""
    for uid, since in marks:
        pod = store.get_pod_by_uid(uid)
        if pod is None or runner.busy(pod.name):
            continue
        annotations = {k: v for k, v in pod.annotations.items() if k != READY_SINCE}
        if since is not None:
            annotations[READY_SINCE] = since
        if annotations != pod.annotations:
            store.save_pod(dataclasses.replace(pod, annotations=annotations))
