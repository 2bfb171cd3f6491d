"""Pure placement: pick a node for a pod from observed nodes and their load.

Ready, schedulable nodes that match the pod's nodeSelector and required node
affinity; the least loaded wins, ties broken by name so plans are repeatable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MatchExpression:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        match self.operator:
            case "In":
                return labels.get(self.key) in self.values
            case "NotIn":
                return self.key not in labels or labels[self.key] not in self.values
            case "Exists":
                return self.key in labels
            case "DoesNotExist":
                return self.key not in labels
        return False


@dataclass(frozen=True)
class NodeSelection:
    """A pod's node constraints: nodeSelector AND (any of the affinity terms)."""

    selector: Mapping[str, str] = field(default_factory=dict)
    terms: tuple[tuple[MatchExpression, ...], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.selector.items()):
            return False
        # As Kubernetes: terms are ORed, an empty term matches nothing.
        return not self.terms or any(term and all(e.matches(labels) for e in term) for term in self.terms)


@dataclass(frozen=True)
class Resources:
    """CPU (cores) and memory (bytes): a pod's requests or a node's capacity."""

    cpu: float = 0.0
    memory: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory)


@dataclass(frozen=True)
class NodeView:
    """A node as the planners see it; `requested` sums the requests of its active pods."""

    name: str
    ready: bool
    schedulable: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)
    capacity: Resources | None = None  # None: not known yet (never probed)
    requested: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class Placement:
    node: str | None
    reason: str = ""


@dataclass(frozen=True)
class Load:
    """Active pods per node, plus the requests of pods placed during this pass.

    A value: `reserve` returns the load with one more pod, and a planner returns the load
    it leaves (JobPlan.load) for the next planner of the pass.
    """

    counts: Mapping[str, int] = field(default_factory=dict)
    requested: Mapping[str, Resources] = field(default_factory=dict)

    def get(self, node: str, default: int = 0) -> int:
        return self.counts.get(node, default)


def reserve(load: Load, node: str, requests: Resources | None = None) -> Load:
    """`load` with one more pod (and its requests) on `node`."""
    counts = {**load.counts, node: load.counts.get(node, 0) + 1}
    if requests is None:
        return Load(counts, load.requested)
    return Load(counts, {**load.requested, node: load.requested.get(node, Resources()) + requests})


def _extra(load: Load | Mapping[str, int], node: str) -> Resources:
    return load.requested.get(node, Resources()) if isinstance(load, Load) else Resources()


def place(
    selection: NodeSelection,
    nodes: Sequence[NodeView],
    load: Load | Mapping[str, int],
    requests: Resources | None = None,
) -> Placement:
    """Choose the least loaded fitting node, or say why none fits (as the Kubernetes scheduler words it)."""
    requests = requests or Resources()
    not_ready = unschedulable = mismatch = no_cpu = no_memory = 0
    fits: list[NodeView] = []
    for node in nodes:
        used = node.requested + _extra(load, node.name)
        if not node.ready:
            not_ready += 1
        elif not node.schedulable:
            unschedulable += 1
        elif not selection.matches(node.labels):
            mismatch += 1
        else:
            short_cpu = bool(node.capacity and requests.cpu and used.cpu + requests.cpu > node.capacity.cpu + 1e-9)
            short_mem = bool(node.capacity and requests.memory and used.memory + requests.memory > node.capacity.memory)
            no_cpu += short_cpu
            no_memory += short_mem
            if not (short_cpu or short_mem):
                fits.append(node)
    if fits:
        best = min(fits, key=lambda n: (load.get(n.name, 0), n.name))
        return Placement(best.name)
    parts = []
    if not_ready:
        parts.append(f"{not_ready} node(s) were not ready")
    if unschedulable:
        parts.append(f"{unschedulable} node(s) were unschedulable")
    if mismatch:
        parts.append(f"{mismatch} node(s) didn't match Pod's node affinity/selector")
    if no_cpu:
        parts.append(f"{no_cpu} Insufficient cpu")
    if no_memory:
        parts.append(f"{no_memory} Insufficient memory")
    detail = ", ".join(parts) if parts else "no nodes are configured"
    return Placement(None, f"0/{len(nodes)} nodes are available: {detail}.")
