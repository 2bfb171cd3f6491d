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
class NodeView:
    """A node as the planners see it."""

    name: str
    ready: bool
    schedulable: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Placement:
    node: str | None
    reason: str = ""


def place(selection: NodeSelection, nodes: Sequence[NodeView], load: Mapping[str, int]) -> Placement:
    """Choose the least loaded fitting node, or say why none fits."""
    not_ready = unschedulable = mismatch = 0
    fits: list[NodeView] = []
    for node in nodes:
        if not node.ready:
            not_ready += 1
        elif not node.schedulable:
            unschedulable += 1
        elif not selection.matches(node.labels):
            mismatch += 1
        else:
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
    detail = ", ".join(parts) if parts else "no nodes are configured"
    return Placement(None, f"0/{len(nodes)} nodes are available: {detail}.")
