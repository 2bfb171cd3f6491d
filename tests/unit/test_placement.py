"""Pure placement: least-loaded fitting node, or a kube-scheduler style reason."""

from __future__ import annotations

import pytest

from miniorch.reconcile.placement import (
    MatchExpression,
    NodeSelection,
    NodeView,
    Placement,
    place,
)

ZONE_A = {"zone": "a", "disk": "ssd"}
ZONE_B = {"zone": "b"}
NODES = (
    NodeView("node0", ready=True, labels=ZONE_A),
    NodeView("node1", ready=True, labels=ZONE_B),
    NodeView("node2", ready=True, labels={}),
)


def expr(key: str, operator: str, *values: str) -> MatchExpression:
    """One affinity match expression."""
    return MatchExpression(key, operator, tuple(values))


def test_least_loaded_node_wins() -> None:
    """The node with the fewest active pods is chosen."""
    assert place(NodeSelection(), NODES, {"node0": 2, "node1": 1, "node2": 3}) == Placement("node1")


def test_ties_are_broken_by_node_name() -> None:
    """Among equally loaded nodes the alphabetically first one wins, so plans are repeatable."""
    nodes = (NodeView("b", ready=True), NodeView("c", ready=True), NodeView("a", ready=True))
    assert place(NodeSelection(), nodes, {}) == Placement("a")
    assert place(NodeSelection(), nodes, {"a": 1}) == Placement("b")


def test_missing_load_counts_as_zero() -> None:
    """A node absent from the load map counts as empty."""
    assert place(NodeSelection(), NODES, {"node0": 1, "node1": 1}).node == "node2"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"zone": "a"}, "node0"),
        ({"zone": "b"}, "node1"),
        ({"zone": "a", "disk": "ssd"}, "node0"),
        ({"zone": "b", "disk": "ssd"}, None),
        ({"zone": "c"}, None),
    ],
)
def test_node_selector_requires_every_label(selector: dict[str, str], expected: str | None) -> None:
    """nodeSelector keeps only nodes that carry all of its labels with equal values."""
    assert place(NodeSelection(selector=selector), NODES, {}).node == expected


@pytest.mark.parametrize(
    ("expression", "fitting"),
    [
        (expr("zone", "In", "a", "b"), ["node0", "node1"]),
        (expr("zone", "In", "c"), []),
        (expr("zone", "NotIn", "a"), ["node1", "node2"]),
        (expr("disk", "Exists"), ["node0"]),
        (expr("disk", "DoesNotExist"), ["node1", "node2"]),
        (expr("zone", "Bogus", "a"), []),
    ],
)
def test_affinity_operators(expression: MatchExpression, fitting: list[str]) -> None:
    """In / NotIn (also true when the key is absent) / Exists / DoesNotExist match like Kubernetes; unknown never."""
    selection = NodeSelection(terms=((expression,),))
    assert [n.name for n in NODES if selection.matches(n.labels)] == fitting


def test_expressions_within_a_term_are_anded() -> None:
    """All expressions of one affinity term must match."""
    selection = NodeSelection(terms=((expr("zone", "In", "a", "b"), expr("disk", "DoesNotExist")),))
    assert place(selection, NODES, {}) == Placement("node1")


def test_affinity_terms_are_ored() -> None:
    """A node fits when any one affinity term matches it."""
    selection = NodeSelection(terms=((expr("zone", "In", "b"),), (expr("disk", "Exists"),)))
    assert [n.name for n in NODES if selection.matches(n.labels)] == ["node0", "node1"]
    assert place(selection, NODES, {"node0": 1}) == Placement("node1")


def test_node_selector_and_affinity_must_both_match() -> None:
    """nodeSelector is ANDed with the affinity terms."""
    selection = NodeSelection(selector={"zone": "b"}, terms=((expr("disk", "Exists"),),))
    placed = place(selection, NODES, {})
    assert placed.node is None
    assert placed.reason == "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."


def test_not_ready_and_unschedulable_nodes_are_skipped() -> None:
    """Pods never go to a NotReady or cordoned node, however idle it is."""
    nodes = (
        NodeView("a-down", ready=False),
        NodeView("b-cordoned", ready=True, schedulable=False),
        NodeView("c-busy", ready=True),
    )
    assert place(NodeSelection(), nodes, {"c-busy": 50}) == Placement("c-busy")


def test_reason_counts_each_kind_of_misfit() -> None:
    """With no fitting node the reason reads like kube-scheduler's, counting each cause."""
    nodes = (
        NodeView("a", ready=False, labels={"zone": "a"}),
        NodeView("b", ready=True, schedulable=False, labels={"zone": "a"}),
        NodeView("c", ready=True, labels={"zone": "b"}),
        NodeView("d", ready=True, labels={"zone": "b"}),
    )
    placed = place(NodeSelection(selector={"zone": "a"}), nodes, {})
    assert placed == Placement(
        None,
        "0/4 nodes are available: 1 node(s) were not ready, 1 node(s) were unschedulable, "
        "2 node(s) didn't match Pod's node affinity/selector.",
    )


@pytest.mark.parametrize(
    ("nodes", "reason"),
    [
        ((NodeView("a", ready=False),), "0/1 nodes are available: 1 node(s) were not ready."),
        (
            (NodeView("a", ready=True, schedulable=False), NodeView("b", ready=False)),
            "0/2 nodes are available: 1 node(s) were not ready, 1 node(s) were unschedulable.",
        ),
        ((), "0/0 nodes are available: no nodes are configured."),
    ],
)
def test_reason_lists_only_the_causes_that_occurred(nodes: tuple[NodeView, ...], reason: str) -> None:
    """The reason names only the causes seen, and says so when there are no nodes at all."""
    assert place(NodeSelection(), nodes, {}) == Placement(None, reason)
