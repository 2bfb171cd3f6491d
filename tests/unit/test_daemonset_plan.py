"""Pure DaemonSet planning, table-driven: placement, backoff, rolling updates, status, revisions."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import pytest

from miniorch.reconcile import daemonset as dsl
from miniorch.reconcile import revisions
from miniorch.reconcile.actions import CreatePod, DeletePod
from miniorch.reconcile.placement import MatchExpression, NodeSelection, NodeView
from miniorch.reconcile.views import READY_SINCE, ContainerView, PodPhase, PodView

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
NEW, OLD = "newhash", "oldhash"
TIMING = dsl.Timing()


def params(**kw: object) -> dsl.DsParams:
    base: dict[str, object] = dict(
        uid="u", namespace="default", name="ds", generation=2, hash=NEW, selection=NodeSelection()
    )
    base.update(kw)
    return dsl.DsParams(**base)  # type: ignore[arg-type]


def nodes(
    *names: str, labels: dict[str, dict[str, str]] | None = None, ready: Sequence[str] | None = None
) -> list[NodeView]:
    return [NodeView(n, ready is None or n in ready, True, (labels or {}).get(n, {})) for n in names]


_ids = itertools.count()


def pod(
    node: str,
    hash_: str = NEW,
    *,
    phase: PodPhase = PodPhase.RUNNING,
    ready_for: float | None = 60,
    reason: str = "",
    deletion: str = "",
    age: float = 100,
    finished_ago: float | None = None,
    restarts: int = 0,
) -> PodView:
    i = next(_ids)
    annotations = {}
    if ready_for is not None:
        annotations[READY_SINCE] = (NOW - dt.timedelta(seconds=ready_for)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return PodView(
        uid=f"p{i}",
        name=f"ds-{i}",
        namespace="default",
        owner_kind="DaemonSet",
        owner_name="ds",
        owner_uid="u",
        node=node,
        phase=phase,
        reason=reason,
        deletion_reason=deletion,
        created_at=NOW - dt.timedelta(seconds=age),
        finished_at=NOW - dt.timedelta(seconds=finished_ago) if finished_ago is not None else None,
        labels={revisions.HASH_LABEL: hash_},
        annotations=annotations,
        restart_count=restarts,
    )


def containers(
    pods: Sequence[PodView], reachable: Sequence[str], status: str = "running"
) -> dict[str, dict[str, ContainerView]]:
    out: dict[str, dict[str, ContainerView]] = {n: {} for n in reachable}
    for p in pods:
        if p.node in out and not p.phase.terminal:
            out[p.node][p.name] = ContainerView(status)
    return out


def plan(
    p: dsl.DsParams,
    pods: list[PodView],
    views: list[NodeView],
    reachable: Sequence[str] | None = None,
    status: str = "running",
) -> dsl.Plan:
    reach = [v.name for v in views] if reachable is None else reachable
    ids = (f"{i:05d}" for i in itertools.count())
    return dsl.plan_daemonset(
        p, pods, views, containers(pods, reach, status), NOW, TIMING, lambda: (next(ids), f"uid-{next(ids)}")
    )


def created(pl: dsl.Plan) -> list[str]:
    return sorted(a.pod.node or "" for a in pl.actions if isinstance(a, CreatePod))


def deleted(pl: dsl.Plan, pods: list[PodView]) -> list[str]:
    by_uid = {p.uid: p for p in pods}
    return sorted(by_uid[a.pod_uid].node or "" for a in pl.actions if isinstance(a, DeletePod))


# -- placement ------------------------------------------------------------------
ZONES = {"n0": {"disk": "nvme"}, "n1": {"disk": "hdd"}, "n2": {}}


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (NodeSelection(), ["n0", "n1", "n2"]),
        (NodeSelection({"disk": "nvme"}), ["n0"]),
        (NodeSelection(terms=((MatchExpression("disk", "In", ("nvme", "hdd")),),)), ["n0", "n1"]),
        (NodeSelection(terms=((MatchExpression("disk", "NotIn", ("nvme",)),),)), ["n1", "n2"]),
        (NodeSelection(terms=((MatchExpression("disk", "Exists"),),)), ["n0", "n1"]),
        (NodeSelection(terms=((MatchExpression("disk", "DoesNotExist"),),)), ["n2"]),
    ],
)
def test_a_pod_is_created_on_every_matching_node(selection: NodeSelection, expected: list[str]) -> None:
    """nodeSelector and each affinity operator pick the nodes that get a pod; pods carry the revision hash."""
    pl = plan(params(selection=selection), [], nodes("n0", "n1", "n2", labels=ZONES))
    assert created(pl) == expected
    assert all(a.pod.labels[revisions.HASH_LABEL] == NEW for a in pl.actions if isinstance(a, CreatePod))
    assert pl.status.desired == len(expected) and pl.status.current == 0


def test_cordoned_nodes_get_pods_and_unreachable_nodes_wait() -> None:
    """Cordon is ignored; a node that does not answer gets its pod when it returns (counted as desired)."""
    views = [NodeView("n0", True, False), NodeView("n1", False, True)]
    pl = plan(params(), [], views, reachable=["n0"])
    assert created(pl) == ["n0"]
    assert pl.status.desired == 2
    assert {n.node: n.state for n in pl.status.nodes}["n1"] == "NodeUnreachable"


def test_a_relabelled_node_loses_its_pod_and_counts_as_misscheduled_until_it_is_gone() -> None:
    """A pod on a node that no longer matches is deleted; numberMisscheduled counts it meanwhile."""
    p = pod("n0")
    pl = plan(params(selection=NodeSelection({"color": "blue"})), [p], nodes("n0"))
    assert deleted(pl, [p]) == ["n0"] and pl.status.misscheduled == 1 and pl.status.desired == 0
    gone = pod("n0", phase=PodPhase.FAILED, reason="NodeSelectorMismatch", finished_ago=1)
    assert plan(params(selection=NodeSelection({"color": "blue"})), [gone], nodes("n0")).status.misscheduled == 0


def test_pods_on_nodes_removed_from_the_config_are_stopped_and_leave_the_counts() -> None:
    p = pod("gone")
    pl = plan(params(), [p], nodes("n0"))
    assert any(isinstance(a, DeletePod) and a.reason == "NodeRemoved" for a in pl.actions)
    assert pl.status.desired == 1 and pl.status.current == 0


def test_a_pod_on_an_unreachable_node_is_kept() -> None:
    """NotReady nodes keep their pods: nothing is deleted or created there; it is current but not ready."""
    p = pod("n1", phase=PodPhase.UNKNOWN)
    pl = plan(params(), [p], nodes("n0", "n1", ready=["n0"]), reachable=["n0"])
    assert created(pl) == ["n0"] and deleted(pl, [p]) == []
    assert pl.status.current == 1 and pl.status.ready == 0


# -- failures and backoff ----------------------------------------------------------
@pytest.mark.parametrize(
    ("failures", "finished_ago", "creates"),
    [
        (1, 0.5, False),  # 1 s after the first failure
        (1, 1.5, True),
        (2, 1.5, False),  # 2 s after the second
        (3, 3.5, False),  # 4 s after the third
        (3, 4.5, True),
        (20, 299, False),  # capped at 5 min
        (20, 301, True),
    ],
)
def test_failed_pods_are_recreated_on_their_node_after_a_doubling_backoff(
    failures: int, finished_ago: float, creates: bool
) -> None:
    history = [pod("n0", phase=PodPhase.FAILED, reason="Error", finished_ago=finished_ago + i) for i in range(failures)]
    history[-1] = pod("n0", phase=PodPhase.FAILED, reason="Error", finished_ago=finished_ago)
    pl = plan(params(), history, nodes("n0"))
    assert created(pl) == (["n0"] if creates else [])
    if not creates:
        assert pl.wake_at is not None and pl.status.nodes[0].state == "BackOff"
    else:
        assert any(e.reason == "FailedDaemonPod" for e in pl.events)


def test_our_own_deletions_and_old_revisions_cause_no_backoff() -> None:
    """A pod removed by a rolling update, or failures of another template, do not delay the new pod."""
    history = [
        pod("n0", phase=PodPhase.FAILED, reason="RollingUpdate", finished_ago=0.1),
        pod("n0", OLD, phase=PodPhase.FAILED, reason="Error", finished_ago=0.1),
    ]
    assert created(plan(params(), history, nodes("n0"))) == ["n0"]


def test_a_crash_looping_pod_is_recreated() -> None:
    """Docker keeps restarting it: after crash_restarts restarts it is deleted (CrashLoopBackOff)."""
    p = pod("n0", restarts=TIMING.crash_restarts)
    pl = plan(params(), [p], nodes("n0"), status="restarting")
    assert [a.reason for a in pl.actions if isinstance(a, DeletePod)] == [dsl.CRASHLOOP]
    assert created(plan(params(), [pod("n0", restarts=1)], nodes("n0"), status="restarting")) == []


def test_a_new_pod_waits_until_the_old_one_has_stopped() -> None:
    old = pod("n0", OLD, deletion="RollingUpdate")
    pl = plan(params(), [old], nodes("n0"))
    assert created(pl) == [] and pl.status.nodes[0].state == "Waiting"
    assert deleted(pl, [old]) == ["n0"]  # its container still runs: the stop is asked again


def test_surplus_pods_on_a_node_keep_the_oldest() -> None:
    a, b = pod("n0", age=200), pod("n0", age=10)
    assert [x.pod_uid for x in plan(params(), [a, b], nodes("n0")).actions if isinstance(x, DeletePod)] == [b.uid]


# -- readiness and status ---------------------------------------------------------
def test_readiness_marks_and_min_ready_seconds() -> None:
    """A running pod is ready now (marked); available minReadySeconds after it became ready."""
    fresh = pod("n0", ready_for=None)
    pl = plan(params(min_ready_seconds=10), [fresh], nodes("n0"))
    assert pl.marks and pl.marks[0][0] == fresh.uid and pl.marks[0][1]
    assert pl.status.ready == 1 and pl.status.available == 0 and pl.status.unavailable == 1
    assert pl.wake_at == NOW + dt.timedelta(seconds=10)
    aged = pod("n0", ready_for=11)
    assert plan(params(min_ready_seconds=10), [aged], nodes("n0")).status.available == 1


def test_a_probe_pod_is_ready_only_when_healthy() -> None:
    p = pod("n0", ready_for=None)
    for health, ready in (("starting", 0), ("unhealthy", 0), ("healthy", 1)):
        found = {"n0": {p.name: ContainerView("running", health=health)}}
        pl = dsl.plan_daemonset(params(probe=True), [p], nodes("n0"), found, NOW, TIMING, lambda: ("x", "y"))
        assert pl.status.ready == ready


def test_status_counters_are_consistent() -> None:
    """current <= desired, updated <= current, available <= ready <= current, unavailable = desired - available."""
    pods = [pod("n0"), pod("n1", OLD), pod("n2", ready_for=None, phase=PodPhase.PENDING), pod("n3")]
    views = nodes("n0", "n1", "n2", "n3", "n4", labels={"n3": {"off": "1"}})
    sel = NodeSelection(terms=((MatchExpression("off", "DoesNotExist"),),))
    found = containers(pods, ["n0", "n1", "n3", "n4"])
    pl = dsl.plan_daemonset(
        params(selection=sel, strategy="OnDelete"), pods, views, found, NOW, TIMING, lambda: ("x", "y")
    )
    s = pl.status
    assert (s.desired, s.current, s.ready, s.available, s.updated, s.misscheduled) == (4, 3, 2, 2, 2, 1)
    assert s.unavailable == 2
    out = dsl.status_to_dict(s)
    assert out["numberUnavailable"] == 2 and out["observedGeneration"] == 2


# -- rolling updates --------------------------------------------------------------
@pytest.mark.parametrize(
    ("pods_", "max_unavailable", "expected"),
    [
        ([("n0", OLD, 60), ("n1", OLD, 60), ("n2", OLD, 60)], 1, 1),  # one at a time
        ([("n0", OLD, 60), ("n1", OLD, 60), ("n2", OLD, 60)], 2, 2),
        ([("n0", OLD, 60), ("n1", OLD, 60), ("n2", OLD, 60)], "50%", 2),  # 1.5 rounded up
        ([("n0", NEW, None), ("n1", OLD, 60), ("n2", OLD, 60)], 1, 0),  # the new pod is not ready yet
        ([("n0", NEW, 60), ("n1", OLD, 60), ("n2", OLD, 60)], 1, 1),
        ([("n0", OLD, None), ("n1", OLD, 60), ("n2", OLD, 60)], 1, 1),  # the unready old pod goes first, alone
    ],
)
def test_rolling_update_respects_max_unavailable(
    pods_: list[tuple[str, str, float | None]], max_unavailable: int | str, expected: int
) -> None:
    pods = [pod(n, h, ready_for=r) for n, h, r in pods_]
    found = containers(pods, ["n0", "n1", "n2"])
    for p in pods:  # a pod without a readiness mark here is one whose container is not running yet
        if READY_SINCE not in p.annotations:
            found["n0"].pop(p.name, None)
    pl = dsl.plan_daemonset(
        params(max_unavailable=max_unavailable), pods, nodes("n0", "n1", "n2"), found, NOW, TIMING, lambda: ("x", "y")
    )
    assert len([a for a in pl.actions if isinstance(a, DeletePod)]) == expected
    if pods_[0][2] is None and pods_[0][1] == OLD:
        assert deleted(pl, pods) == ["n0"]


def test_an_unreachable_node_does_not_stall_a_rolling_update() -> None:
    """Its pod is left alone and does not use the maxUnavailable budget (kubernetes#117204)."""
    pods = [pod("n0", OLD, phase=PodPhase.UNKNOWN), pod("n1", OLD), pod("n2", NEW)]
    pl = plan(params(), pods, nodes("n0", "n1", "n2", ready=["n1", "n2"]), reachable=["n1", "n2"])
    assert deleted(pl, pods) == ["n1"]


def test_on_delete_replaces_nothing() -> None:
    pods = [pod("n0", OLD), pod("n1", OLD)]
    pl = plan(params(strategy="OnDelete"), pods, nodes("n0", "n1"))
    assert pl.actions == () and pl.status.updated == 0


def test_surge_creates_alongside_then_deletes_the_old_pod() -> None:
    """maxSurge 1: a new pod next to one old pod; the old one goes once the new one is available."""
    surge = params(max_surge=1, max_unavailable=0)
    olds = [pod("n0", OLD), pod("n1", OLD)]
    pl = plan(surge, olds, nodes("n0", "n1"))
    assert created(pl) == ["n0"] and deleted(pl, olds) == []
    starting = pod("n0", NEW, ready_for=None, age=1)
    found = containers(olds, ["n0", "n1"])  # the new container is not running yet
    pl = dsl.plan_daemonset(surge, [*olds, starting], nodes("n0", "n1"), found, NOW, TIMING, lambda: ("x", "y"))
    assert pl.actions == ()  # the surge budget is used by n0
    ready = pod("n0", NEW, ready_for=30, age=40)
    pl = plan(surge, [*olds, ready], nodes("n0", "n1"))
    assert deleted(pl, [*olds, ready]) == ["n0"] and created(pl) == ["n1"]


def test_surge_replaces_an_unready_old_pod_without_budget() -> None:
    surge = params(max_surge=1, max_unavailable=0)
    """n2 uses the surge budget; n0's old pod is not running, so n0 gets its new pod anyway."""
    starting = pod("n2", NEW, ready_for=None)
    pods = [pod("n0", OLD, ready_for=None), pod("n1", OLD), pod("n2", OLD), starting]
    found = containers(pods, ["n0", "n1", "n2"])
    found["n0"] = {}
    del found["n2"][starting.name]
    pl = dsl.plan_daemonset(surge, pods, nodes("n0", "n1", "n2"), found, NOW, TIMING, lambda: ("x", "y"))
    assert created(pl) == ["n0"]


# -- revisions ---------------------------------------------------------------------
def rev(h: str, n: int) -> revisions.Revision:
    return revisions.Revision("u", f"ds-{h}", h, n, {"h": h}, "", NOW)


def test_template_hash_is_stable_and_safe() -> None:
    a = revisions.template_hash({"spec": {"containers": [{"image": "x"}]}, "metadata": {}})
    b = revisions.template_hash({"metadata": {}, "spec": {"containers": [{"image": "x"}]}})
    assert a == b and set(a) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert a != revisions.template_hash({"spec": {"containers": [{"image": "y"}]}})


def test_a_new_template_is_the_next_revision_and_going_back_renumbers_the_old_one() -> None:
    t1, t2 = {"v": 1}, {"v": 2}
    h1, h2 = revisions.template_hash(t1), revisions.template_hash(t2)
    first = revisions.plan_history("u", "ds", t1, "", [], set(), 10, NOW)
    assert first.current.revision == 1 and first.save == (first.current,)
    second = revisions.plan_history("u", "ds", t2, "", [first.current], {h1}, 10, NOW)
    assert second.current.revision == 2 and second.current.name == f"ds-{h2}"
    back = revisions.plan_history("u", "ds", t1, "", [first.current, second.current], {h2}, 10, NOW)
    assert back.current.revision == 3 and back.current.hash == h1
    same = revisions.plan_history("u", "ds", t1, "", [back.current, second.current], set(), 10, NOW)
    assert same.save == () and same.delete == ()


def test_old_unused_revisions_are_pruned_beyond_the_limit() -> None:
    existing = [rev("a", 1), rev("b", 2), rev("c", 3), rev("d", 4)]
    h = revisions.plan_history("u", "ds", {"new": 1}, "", existing, {"a"}, 1, NOW)
    assert sorted(h.delete) == ["b", "c"] and h.current.revision == 5


def test_rollback_target_defaults_to_the_previous_revision() -> None:
    revs = [rev("a", 1), rev("b", 3), rev("c", 2)]
    assert revisions.find(revs, 0, "b") == rev("c", 2)
    assert revisions.find(revs, 1, "b") == rev("a", 1)
    assert revisions.find(revs, 9, "b") is None
    assert revisions.find([rev("b", 1)], 0, "b") is None
