"""Pure DaemonSet planning: one pod on every matching node, rolling updates, status.

(params, pods, nodes, observed containers, now) -> actions, events, status and
readiness marks. Cordoned nodes keep and get pods; pods on unreachable nodes are
left alone and never count against maxUnavailable, so they cannot stall a rollout.
Failed pods are recreated on their node after a per-node backoff (1 s doubling to 5 min).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from miniorch.reconcile import backoff, startretry
from miniorch.reconcile.actions import Action, CreatePod, DeletePod, Event
from miniorch.reconcile.placement import NodeSelection, NodeView
from miniorch.reconcile.revisions import HASH_LABEL
from miniorch.reconcile.views import READY_SINCE, ContainerView, PodView
from miniorch.spec.enums import EventReason
from miniorch.spec.workloads import scaled_value

#: Deletion reasons of our own decisions; such pods are not failures and cause no backoff.
DELIBERATE = frozenset(
    {
        "NodeSelectorMismatch",
        "RollingUpdate",
        "DaemonSetDeleted",
        "NodeRemoved",
        "Surplus",
        "Deleted",
    }  # Deleted: ctl delete pod
)
CRASHLOOP = "CrashLoopBackOff"


@dataclass(frozen=True)
class Timing:
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    crash_restarts: int = 5  # Docker restarts after which a crash-looping pod is recreated
    failure_window: float = 600.0  # failures older than this no longer lengthen the backoff


@dataclass(frozen=True)
class DsParams:
    uid: str
    namespace: str
    name: str
    generation: int
    hash: str  # of the current template
    selection: NodeSelection
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    strategy: str = "RollingUpdate"  # | OnDelete
    max_unavailable: int | str = 1
    max_surge: int | str = 0
    min_ready_seconds: int = 0
    probe: bool = False  # readiness comes from a Docker healthcheck


@dataclass(frozen=True)
class NodeLine:
    """Why a node has, lacks, or is waiting for its pod (for `describe ds`)."""

    node: str
    pod: str
    state: str
    message: str = ""


@dataclass(frozen=True)
class DsStatus:
    desired: int = 0
    current: int = 0
    ready: int = 0
    available: int = 0
    updated: int = 0
    misscheduled: int = 0
    observed_generation: int = 0
    nodes: tuple[NodeLine, ...] = ()

    @property
    def unavailable(self) -> int:
        return self.desired - self.available


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    events: tuple[Event, ...]
    status: DsStatus
    marks: tuple[tuple[str, str | None], ...]  # (pod uid, new READY_SINCE or None) where it changed
    wake_at: dt.datetime | None


@dataclass
class _Pod:
    rec: PodView
    ready: bool
    available: bool
    hash_ok: bool  # on the current revision


@dataclass
class _Node:
    view: NodeView
    reachable: bool
    active: list[_Pod]
    terminating: list[PodView]
    failed: list[PodView]


class _Builder:
    def __init__(self, params: DsParams, now: dt.datetime, new_pod_id: Callable[[], tuple[str, str]]) -> None:
        self.p = params
        self.now = now
        self.new_pod_id = new_pod_id
        self.actions: list[Action] = []
        self.events: list[Event] = []
        self.deleted: set[str] = set()
        self.wake: list[dt.datetime] = []

    def delete(self, pod: PodView, reason: str) -> None:
        if pod.uid in self.deleted:
            return
        self.deleted.add(pod.uid)
        self.actions.append(DeletePod(pod.uid, reason))
        if not pod.deletion_reason:
            self.events.append(Event("Normal", EventReason.SUCCESSFUL_DELETE, f"Deleted pod: {pod.name}"))

    def create(self, node: str) -> str:
        suffix, uid = self.new_pod_id()
        p = self.p
        pod = PodView(
            uid=uid,
            name=f"{p.name}-{suffix}",
            namespace=p.namespace,
            owner_kind="DaemonSet",
            owner_name=p.name,
            owner_uid=p.uid,
            node=node,
            labels={**p.pod_labels, HASH_LABEL: p.hash},
            annotations=dict(p.pod_annotations),
            created_at=self.now,
        )
        self.actions.append(CreatePod(pod))
        self.events.append(Event("Normal", EventReason.SUCCESSFUL_CREATE, f"Created pod: {pod.name}"))
        return pod.name


def readiness(pod: PodView, container: ContainerView | None, probe: bool, now: dt.datetime) -> tuple[bool, str | None]:
    """(ready, READY_SINCE value): running and healthy (or running, without a probe)."""
    ready = (
        container is not None
        and container.status == "running"
        and not pod.deletion_reason
        and not pod.phase.terminal
        and (container.health == "healthy" if probe else True)
    )
    if not ready:
        return False, None
    return True, pod.annotations.get(READY_SINCE) or now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _since(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def plan_daemonset(
    params: DsParams,
    pods: Sequence[PodView],
    nodes: Sequence[NodeView],
    containers: Mapping[str, Mapping[str, ContainerView]],
    now: dt.datetime,
    timing: Timing,
    new_pod_id: Callable[[], tuple[str, str]],
) -> Plan:
    """Plan one pass for one DaemonSet. `containers` holds reachable nodes only."""
    b = _Builder(params, now, new_pod_id)
    marks: list[tuple[str, str | None]] = []
    configured = {n.name for n in nodes}
    by_node: dict[str, list[PodView]] = {}
    for pod in pods:
        if pod.node:
            by_node.setdefault(pod.node, []).append(pod)
    for name, node_pods in sorted(by_node.items()):
        if name not in configured:  # removed from the config: stop what is left there
            for pod in node_pods:
                if not pod.phase.terminal:
                    b.delete(pod, pod.deletion_reason or "NodeRemoved")
    states = [_observe(b, view, by_node.get(view.name, []), containers.get(view.name), timing, marks) for view in nodes]
    lines = [_manage(b, node, params, timing) for node in states]
    if params.strategy == "RollingUpdate":
        _roll(b, [n for n in states if n.reachable and params.selection.matches(n.view.labels)], params)
    status = _status(params, states, lines)
    return Plan(tuple(b.actions), tuple(b.events), status, tuple(marks), min(b.wake, default=None))


def _observe(
    b: _Builder,
    view: NodeView,
    node_pods: Sequence[PodView],
    on_node: Mapping[str, ContainerView] | None,
    timing: Timing,
    marks: list[tuple[str, str | None]],
) -> _Node:
    """One node's pods, sorted into active, terminating and failed; readiness changes go to `marks`."""
    params, now = b.p, b.now
    node = _Node(view, on_node is not None, [], [], [])
    for pod in sorted(node_pods, key=lambda x: x.created_at):
        container = on_node.get(pod.name) if on_node is not None else None
        if pod.phase.terminal:
            node.failed.append(pod)
            continue
        ready, since = readiness(pod, container, params.probe, now)
        if since != pod.annotations.get(READY_SINCE):
            marks.append((pod.uid, since))
        if pod.deletion_reason:
            node.terminating.append(pod)
            if container is not None and container.running:
                b.delete(pod, pod.deletion_reason)  # its stop was deferred (node down, daemon restart)
            continue
        available = ready and since is not None and _since(since) + _min_ready(params) <= now
        if ready and not available and since is not None:
            b.wake.append(_since(since) + _min_ready(params))
        node.active.append(_Pod(pod, ready, available, pod.labels.get(HASH_LABEL) == params.hash))
        crashing = container is not None and container.status == "restarting"
        if crashing and pod.restart_count >= timing.crash_restarts:
            b.delete(pod, CRASHLOOP)
    return node


def _min_ready(params: DsParams) -> dt.timedelta:
    return dt.timedelta(seconds=params.min_ready_seconds)


def _manage(b: _Builder, node: _Node, params: DsParams, timing: Timing) -> NodeLine:
    """One node on its own: create the missing pod, drop surplus or misplaced ones."""
    name = node.view.name
    if not params.selection.matches(node.view.labels):
        for active in node.active:
            b.delete(active.rec, "NodeSelectorMismatch")
        if node.active or node.terminating:
            rec = node.active[0].rec if node.active else node.terminating[0]
            return NodeLine(name, rec.name, "Removing", "node no longer matches nodeSelector/affinity")
        return NodeLine(name, "", "NotScheduled", "node labels do not match nodeSelector/affinity")
    surge = _surge_allowed(params)
    keep = _keepers(node.active, surge)
    for pod in node.active:
        if pod not in keep:
            b.delete(pod.rec, "Surplus")
    if node.active:
        return _line(node, keep[0])
    if node.terminating:
        return NodeLine(name, node.terminating[0].name, "Waiting", "waiting for the old pod to stop")
    if not node.reachable:
        return NodeLine(name, "", "NodeUnreachable", "node is not answering; the pod is created when it returns")
    failed = _recent_failures(node.failed, params.hash, b.now, timing)
    if failed:
        last = max(failed, key=lambda x: x.finished_at or x.created_at)
        ready_at = (last.finished_at or last.created_at) + dt.timedelta(
            seconds=backoff.delay_seconds(len(failed), timing.backoff_initial, timing.backoff_max)
        )
        why = f"pod {last.name} failed ({last.reason}{': ' + last.message if last.message else ''})"
        if ready_at > b.now:
            b.wake.append(ready_at)
            until = ready_at.strftime("%H:%M:%S")
            return NodeLine(name, "", "BackOff", f"{why}; {len(failed)} failure(s), next pod at {until}")
        b.events.append(
            Event(
                "Warning",
                EventReason.FAILED_DAEMON_POD,
                f"Found failed daemon pod {last.name} on node {name}, recreating it",
            )
        )
    return NodeLine(name, b.create(name), "Creating", "")


def _line(node: _Node, pod: _Pod) -> NodeLine:
    rec = pod.rec
    if not node.reachable:
        return NodeLine(node.view.name, rec.name, "Unknown", "node is not answering; the pod is kept")
    if pod.available:
        return NodeLine(node.view.name, rec.name, "Available")
    if pod.ready:
        return NodeLine(node.view.name, rec.name, "Ready", "waiting for minReadySeconds")
    message = rec.message or ("readiness probe not passing yet" if rec.phase.value == "Running" else rec.reason)
    if rec.reason in startretry.START_ERRORS:  # the engine refused its container: say which way
        message = f"{rec.reason}: {rec.message}"
    return NodeLine(node.view.name, rec.name, "NotReady", message)


def _keepers(active: list[_Pod], surge: bool) -> list[_Pod]:
    """The pods a node keeps: the oldest; with surge also the oldest of the other revision."""
    if len(active) <= 1:
        return active
    if not surge:
        return active[:1]
    new = next((p for p in active if p.hash_ok), None)
    old = next((p for p in active if not p.hash_ok), None)
    return [p for p in (old, new) if p is not None]


def _recent_failures(failed: list[PodView], hash_: str, now: dt.datetime, timing: Timing) -> list[PodView]:
    window = dt.timedelta(seconds=timing.failure_window)
    return [
        p
        for p in failed
        if p.reason not in DELIBERATE
        and p.labels.get(HASH_LABEL) == hash_
        and now - (p.finished_at or p.created_at) < window
    ]


def _surge_allowed(params: DsParams) -> bool:
    return params.strategy == "RollingUpdate" and scaled_value(params.max_surge, 1, True) > 0


def _budget(params: DsParams, desired: int) -> tuple[int, int]:
    surge = scaled_value(params.max_surge, desired, True)
    unavailable = scaled_value(params.max_unavailable, desired, True)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return unavailable, surge


def _roll(b: _Builder, nodes: list[_Node], params: DsParams) -> None:
    """Replace old pods on reachable matching nodes within maxUnavailable / maxSurge."""
    max_unavailable, max_surge = _budget(params, len(nodes))
    if max_surge == 0:
        unavailable = 0
        replace: list[_Pod] = []
        candidates: list[_Pod] = []
        for node in nodes:
            active = [p for p in node.active if p.rec.uid not in b.deleted]
            old = [p for p in active if not p.hash_ok]
            if len(active) != 1 or not active[0].available:
                unavailable += 1  # strict: every unavailable node counts (kubernetes#123232)
            if len(active) == 1 and old:
                (replace if not old[0].available else candidates).append(old[0])
        room = max(0, max_unavailable - unavailable)
        for pod in replace + candidates[:room]:
            b.delete(pod.rec, "RollingUpdate")
        return
    surging = 0
    grow: list[str] = []
    candidates_n: list[str] = []
    for node in nodes:
        active = [p for p in node.active if p.rec.uid not in b.deleted]
        new = [p for p in active if p.hash_ok]
        old = [p for p in active if not p.hash_ok]
        if len(new) > 1 or len(old) > 1:
            surging += 1
        elif old and not new:
            (candidates_n if old[0].available else grow).append(node.view.name)
        elif old and new:
            # The new pod took over, or the old one serves nothing while the new one starts.
            if new[0].available or not old[0].ready:
                b.delete(old[0].rec, "RollingUpdate")
            if not new[0].available:
                surging += 1
    for name in grow + candidates_n[: max(0, max_surge - surging)]:
        b.create(name)


def _status(params: DsParams, nodes: list[_Node], lines: list[NodeLine]) -> DsStatus:
    desired = current = ready = available = updated = misscheduled = 0
    for node in nodes:
        if not params.selection.matches(node.view.labels):
            misscheduled += bool(node.active or node.terminating)
            continue
        desired += 1
        if not node.active:
            continue
        current += 1
        oldest = node.active[0]
        ready += oldest.ready
        available += oldest.available
        updated += oldest.hash_ok
    return DsStatus(desired, current, ready, available, updated, misscheduled, params.generation, tuple(lines))


def status_to_dict(status: DsStatus) -> dict[str, object]:
    return {
        "currentNumberScheduled": status.current,
        "desiredNumberScheduled": status.desired,
        "numberAvailable": status.available,
        "numberMisscheduled": status.misscheduled,
        "numberReady": status.ready,
        "numberUnavailable": status.unavailable,
        "observedGeneration": status.observed_generation,
        "updatedNumberScheduled": status.updated,
        "nodes": [
            {k: v for k, v in (("name", n.node), ("pod", n.pod), ("state", n.state), ("message", n.message)) if v}
            for n in status.nodes
        ],
    }
