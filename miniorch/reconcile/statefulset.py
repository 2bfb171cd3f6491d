"""Pure StatefulSet planning: stable pods `<name>-<ordinal>`, ordered or parallel, with pinned volumes.

(params, pods, containers, nodes, load, now) -> actions, events, status, readiness marks, the
replica -> node pins and the volumes to remove. OrderedReady (monotonic) creates ordinal N only
once 0..N-1 are Running and available, removes the highest ordinal first and waits for each to be
gone; any unhealthy replica blocks it (as Kubernetes' StatefulSet controller). A replica with
volumes is pinned to the node it first ran on: it comes back there, and waits Pending while
that node is not Ready. Rolling updates go from the highest ordinal down to `partition`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from miniorch.reconcile import placement
from miniorch.reconcile.actions import Action, BindPod, CreatePod, DeletePod, Event
from miniorch.reconcile.daemonset import readiness
from miniorch.reconcile.revisions import HASH_LABEL
from miniorch.reconcile.views import READY_SINCE, ContainerView, PodView
from miniorch.spec.enums import EventReason, PodPhase

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
NODE_NOT_READY = "NodeNotReady"
#: Deletion reasons of our own decisions (not failures of the replica).
SCALED_DOWN, ROLLING_UPDATE, DELETED = "ScaledDown", "RollingUpdate", "StatefulSetDeleted"


@dataclass(frozen=True)
class StsParams:
    uid: str
    namespace: str
    name: str
    generation: int
    replicas: int
    update_hash: str  # the template's revision now
    current_hash: str  # the revision the set ran before this rollout (= update_hash when done)
    selection: placement.NodeSelection = field(default_factory=placement.NodeSelection)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    parallel: bool = False  # podManagementPolicy: Parallel
    on_delete: bool = False  # updateStrategy: OnDelete
    partition: int = 0
    min_ready_seconds: int = 0
    probe: bool = False  # readiness from a Docker healthcheck
    claims: tuple[str, ...] = ()  # volumeClaimTemplates names
    delete_scaled_volumes: bool = False  # persistentVolumeClaimRetentionPolicy.whenScaled: Delete


@dataclass(frozen=True)
class Line:
    """One replica, for `describe sts`: its pod, node and why it is not (yet) available."""

    ordinal: int
    pod: str
    node: str
    state: str
    message: str = ""


@dataclass(frozen=True)
class StsStatus:
    replicas: int = 0
    ready: int = 0
    available: int = 0
    current: int = 0
    updated: int = 0
    current_revision: str = ""
    update_revision: str = ""
    observed_generation: int = 0
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    events: tuple[Event, ...]
    status: StsStatus
    marks: tuple[tuple[str, str | None], ...]  # (pod uid, new READY_SINCE or None)
    pins: Mapping[int, str]  # ordinal -> node of its volumes, after this pass
    forget: tuple[str, ...]  # uids of finished pod records to drop (their replacement takes the name)
    remove_volumes: tuple[tuple[str, str], ...]  # (node, volume) of scaled-down replicas
    wake_at: dt.datetime | None


@dataclass
class _Replica:
    ordinal: int
    live: PodView | None  # the one pod of the ordinal not yet finished
    stale: list[PodView]  # finished pods of the ordinal
    ready: bool = False
    available: bool = False


def ordinal_of(pod: PodView, name: str) -> int | None:
    """The ordinal of `<name>-<ordinal>`, or None for a pod not named so."""
    head, _, tail = pod.name.rpartition("-")
    return int(tail) if head == name and tail.isdigit() else None


def volume_names(params: StsParams, ordinal: int) -> list[str]:
    return [f"{claim}-{params.name}-{ordinal}" for claim in params.claims]


class _Builder:
    def __init__(
        self,
        params: StsParams,
        nodes: Sequence[placement.NodeView],
        load: placement.Load,
        now: dt.datetime,
        new_uid: Callable[[], str],
        pins: Mapping[int, str],
    ) -> None:
        self.p, self.nodes, self.load, self.now, self.new_uid = params, nodes, load, now, new_uid
        self.ready_nodes = {n.name for n in nodes if n.ready}
        self.actions: list[Action] = []
        self.events: list[Event] = []
        self.pins = dict(pins)
        self.wake: list[dt.datetime] = []
        self.notes: dict[int, tuple[str, str]] = {}  # ordinal -> (state, message) for describe

    def delete(self, pod: PodView, reason: str) -> None:
        self.actions.append(DeletePod(pod.uid, reason))
        self.events.append(
            Event(
                "Normal",
                EventReason.SUCCESSFUL_DELETE,
                f"delete Pod {pod.name} in StatefulSet {self.p.name} successful",
            )
        )

    def create(self, ordinal: int) -> None:
        p = self.p
        name = f"{p.name}-{ordinal}"
        revision = p.current_hash if not p.on_delete and ordinal < p.partition else p.update_hash
        node, reason, message = self._node_for(ordinal)
        pod = PodView(
            uid=self.new_uid(),
            name=name,
            namespace=p.namespace,
            owner_kind="StatefulSet",
            owner_name=p.name,
            owner_uid=p.uid,
            node=node,
            created_at=self.now,
            reason=reason,
            message=message,
            labels={**p.pod_labels, HASH_LABEL: revision, POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal)},
            annotations=dict(p.pod_annotations),
        )
        self.actions.append(CreatePod(pod))
        self.events.append(
            Event("Normal", EventReason.SUCCESSFUL_CREATE, f"create Pod {name} in StatefulSet {p.name} successful")
        )
        if node is None:
            self.notes[ordinal] = ("Pending", message)

    def _node_for(self, ordinal: int) -> tuple[str | None, str, str]:
        """(node, reason, message): the pinned node when Ready, else wait; unpinned: the scheduler's choice."""
        pinned = self.pins.get(ordinal)
        if pinned is not None:
            if pinned in self.ready_nodes:
                return pinned, "", ""
            return None, NODE_NOT_READY, waiting_message(self.p, ordinal, pinned)
        chosen = placement.place(self.p.selection, self.nodes, self.load)
        if chosen.node is None:
            return None, "Unschedulable", chosen.reason
        self.load = placement.reserve(self.load, chosen.node)
        if self.p.claims:
            self.pins[ordinal] = chosen.node
        return chosen.node, "", ""


def waiting_message(params: StsParams, ordinal: int, node: str) -> str:
    volumes = ", ".join(volume_names(params, ordinal))
    return f"waiting for node {node!r} to be Ready: the replica's volumes ({volumes}) are there"


def _since(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def plan_statefulset(
    params: StsParams,
    pods: Sequence[PodView],
    removed: frozenset[str],
    containers: Mapping[str, Mapping[str, ContainerView]],
    nodes: Sequence[placement.NodeView],
    load: placement.Load,
    pins: Mapping[int, str],
    now: dt.datetime,
    new_uid: Callable[[], str],
) -> Plan:
    """Plan one pass. `removed`: uids of finished pods whose container is gone; `containers`
    holds reachable nodes only; `pins`: ordinal -> node as recorded by earlier passes."""
    b = _Builder(params, nodes, load, now, new_uid, pins)
    marks: list[tuple[str, str | None]] = []
    replicas = _observe(b, pods, containers, marks)
    # A finished pod whose container is gone is forgotten, as Kubernetes deletes the pod object:
    # its replacement takes the name.
    forget = [s.uid for rep in replicas.values() for s in rep.stale if s.uid in removed]
    wanted = [replicas.get(i) or _Replica(i, None, []) for i in range(params.replicas)]
    condemned = sorted((r for o, r in replicas.items() if o >= params.replicas), key=lambda r: -r.ordinal)
    blocked = False
    for rep in wanted:
        if _replica(b, rep, removed):
            blocked = True
            if not params.parallel:
                break
    if not blocked or params.parallel:
        _scale_down(b, condemned, blocked)
    if not params.on_delete and (not blocked or params.parallel):
        _roll(b, wanted)
    remove = _scaled_volumes(b, replicas, removed)
    status = _status(b, replicas, wanted)
    return Plan(
        tuple(b.actions),
        tuple(b.events),
        status,
        tuple(marks),
        b.pins,
        tuple(forget),
        remove,
        min(b.wake, default=None),
    )


def _observe(
    b: _Builder,
    pods: Sequence[PodView],
    containers: Mapping[str, Mapping[str, ContainerView]],
    marks: list[tuple[str, str | None]],
) -> dict[int, _Replica]:
    """Pods by ordinal, with readiness; adopts the pin of a live pod whose pin is unknown."""
    p = b.p
    out: dict[int, _Replica] = {}
    for pod in sorted(pods, key=lambda x: x.created_at):
        ordinal = ordinal_of(pod, p.name)
        if ordinal is None:
            continue
        rep = out.setdefault(ordinal, _Replica(ordinal, None, []))
        if pod.phase.terminal:
            rep.stale.append(pod)
            continue
        rep.live = pod
        if pod.node and p.claims and ordinal not in b.pins:
            b.pins[ordinal] = pod.node
        container = (containers.get(pod.node) or {}).get(pod.name) if pod.node else None
        ready, since = readiness(pod, container, p.probe, b.now)
        if since != pod.annotations.get(READY_SINCE):
            marks.append((pod.uid, since))
        rep.ready = ready
        rep.available = ready and since is not None and _since(since) + _min_ready(p) <= b.now
        if ready and not rep.available and since is not None:
            b.wake.append(_since(since) + _min_ready(p))
        if pod.deletion_reason and container is not None and container.running:
            b.actions.append(DeletePod(pod.uid, pod.deletion_reason))  # a stop asked for, or deferred
    return out


def _min_ready(params: StsParams) -> dt.timedelta:
    return dt.timedelta(seconds=params.min_ready_seconds)


def _replica(b: _Builder, rep: _Replica, removed: frozenset[str]) -> bool:
    """Bring one wanted ordinal about; True when it is not healthy (OrderedReady stops there)."""
    pod = rep.live
    if pod is None:
        if any(s.uid not in removed for s in rep.stale):
            old = next(s for s in rep.stale if s.uid not in removed)
            b.notes[rep.ordinal] = ("Waiting", f"waiting for the container of {old.name} to be removed")
            return True
        b.create(rep.ordinal)
        return True
    if pod.node is None:
        pinned = b.pins.get(rep.ordinal)
        if pinned is not None and pinned in b.ready_nodes:
            b.actions.append(BindPod(pod.uid, pinned))
        elif pinned is not None:
            b.notes[rep.ordinal] = ("Pending", waiting_message(b.p, rep.ordinal, pinned))
        else:
            chosen = placement.place(b.p.selection, b.nodes, b.load)
            if chosen.node is not None:
                b.load = placement.reserve(b.load, chosen.node)
                if b.p.claims:
                    b.pins[rep.ordinal] = chosen.node
                b.actions.append(BindPod(pod.uid, chosen.node))
            else:
                b.notes[rep.ordinal] = ("Pending", chosen.reason)
        return True
    return pod.terminating or not rep.available


def _scale_down(b: _Builder, condemned: list[_Replica], blocked: bool) -> None:
    """Remove ordinals >= replicas: the highest first, one at a time, each gone before the next
    (OrderedReady); all at once with Parallel."""
    for rep in condemned:
        pod = rep.live
        if pod is None:
            continue
        if pod.terminating:
            if not b.p.parallel:
                return
            continue
        b.delete(pod, SCALED_DOWN)
        if not b.p.parallel:
            return


def _roll(b: _Builder, wanted: list[_Replica]) -> None:
    """RollingUpdate: replace the highest ordinal >= partition not on the update revision, once
    every higher one runs the new revision and is available."""
    for rep in reversed(wanted[b.p.partition :]):
        pod = rep.live
        if pod is None or pod.terminating:
            return
        if pod.labels.get(HASH_LABEL) != b.p.update_hash:
            b.delete(pod, ROLLING_UPDATE)
            return
        if not rep.available:
            return


def _scaled_volumes(
    b: _Builder, replicas: Mapping[int, _Replica], removed: frozenset[str]
) -> tuple[tuple[str, str], ...]:
    """whenScaled: Delete: the volumes of ordinals past `replicas` once their pods are gone
    (their pin goes with them); Retain keeps both, for a later scale-up."""
    if not b.p.delete_scaled_volumes:
        return ()
    out: list[tuple[str, str]] = []
    for ordinal, node in sorted(b.pins.items()):
        if ordinal < b.p.replicas:
            continue
        rep = replicas.get(ordinal)
        if rep is not None and (rep.live is not None or any(s.uid not in removed for s in rep.stale)):
            continue
        if node in b.ready_nodes:
            out += [(node, v) for v in volume_names(b.p, ordinal)]
            del b.pins[ordinal]
    return tuple(out)


def _status(b: _Builder, replicas: Mapping[int, _Replica], wanted: list[_Replica]) -> StsStatus:
    p = b.p
    live = [r for r in replicas.values() if r.live is not None]
    updated = sum(1 for r in live if r.live and r.live.labels.get(HASH_LABEL) == p.update_hash)
    ready = sum(1 for r in live if r.ready)
    current_revision = p.current_hash
    current = sum(1 for r in live if r.live and r.live.labels.get(HASH_LABEL) == p.current_hash)
    if updated == len(live) == p.replicas and ready == p.replicas:
        current_revision, current = p.update_hash, updated
    lines = tuple(_line(b, rep) for rep in wanted)
    return StsStatus(
        replicas=len(live),
        ready=ready,
        available=sum(1 for r in live if r.available),
        current=current,
        updated=updated,
        current_revision=current_revision,
        update_revision=p.update_hash,
        observed_generation=p.generation,
        lines=lines,
    )


def _line(b: _Builder, rep: _Replica) -> Line:
    pod = rep.live
    name = f"{b.p.name}-{rep.ordinal}"
    node = (pod.node if pod else None) or b.pins.get(rep.ordinal, "")
    if rep.ordinal in b.notes:
        state, message = b.notes[rep.ordinal]
        return Line(rep.ordinal, name, node, state, message)
    if pod is None:
        return Line(rep.ordinal, name, node, "Waiting", "waiting for the lower ordinals to be Running and Ready")
    if pod.terminating:
        return Line(rep.ordinal, name, node, "Terminating", pod.deletion_reason)
    if pod.node and pod.node not in b.ready_nodes:
        return Line(rep.ordinal, name, node, "Unknown", f"node {pod.node!r} is not Ready; the replica waits for it")
    if rep.available:
        return Line(rep.ordinal, name, node, "Available")
    if rep.ready:
        return Line(rep.ordinal, name, node, "Ready", "waiting for minReadySeconds")
    message = pod.message or ("readiness probe not passing yet" if pod.phase is PodPhase.RUNNING else pod.reason)
    return Line(rep.ordinal, name, node, "NotReady", message)


def status_to_dict(status: StsStatus, pins: Mapping[int, str]) -> dict[str, object]:
    out: dict[str, object] = {
        "availableReplicas": status.available,
        "collisionCount": 0,
        "currentReplicas": status.current,
        "currentRevision": status.current_revision,
        "observedGeneration": status.observed_generation,
        "readyReplicas": status.ready,
        "replicas": status.replicas,
        "updateRevision": status.update_revision,
        "updatedReplicas": status.updated,
        "replicaNodes": {str(k): v for k, v in sorted(pins.items())},
        "ordinals": [{k: v for k, v in dataclasses.asdict(line).items() if v != ""} for line in status.lines],
    }
    return out


def pins_of(status: Mapping[str, object]) -> dict[int, str]:
    """The ordinal -> node pins a stored status holds."""
    raw = status.get("replicaNodes")
    return {int(k): str(v) for k, v in raw.items() if str(k).isdigit()} if isinstance(raw, dict) else {}
