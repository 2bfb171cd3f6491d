"""Pure StatefulSet planning, table-driven: ordered and parallel creation, scale-down, pinned
volumes, reverse-order rolling updates with a partition, OnDelete, minReadySeconds, status."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from miniorch.reconcile import placement
from miniorch.reconcile import statefulset as sl
from miniorch.reconcile.actions import Action, BindPod, CreatePod, DeletePod
from miniorch.reconcile.revisions import HASH_LABEL
from miniorch.reconcile.views import READY_SINCE, ContainerView, PodPhase, PodView

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
NEW, OLD = "web-new", "web-old"
NODES = ("n0", "n1", "n2")
_uids = itertools.count()


def params(**kw: Any) -> sl.StsParams:
    base: dict[str, Any] = dict(
        uid="u",
        namespace="default",
        name="web",
        generation=1,
        replicas=3,
        update_hash=NEW,
        current_hash=NEW,
        probe=True,
    )
    base.update(kw)
    return sl.StsParams(**base)


def pod(
    ordinal: int,
    node: str | None = "n0",
    *,
    hash_: str = NEW,
    phase: PodPhase = PodPhase.RUNNING,
    ready_for: float | None = 60,
    deletion: str = "",
    running: bool = True,
) -> tuple[PodView, ContainerView | None]:
    annotations = {}
    if ready_for is not None:
        annotations[READY_SINCE] = (NOW - dt.timedelta(seconds=ready_for)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    view = PodView(
        uid=f"p{next(_uids)}",
        name=f"web-{ordinal}",
        namespace="default",
        owner_kind="StatefulSet",
        owner_name="web",
        owner_uid="u",
        node=node,
        created_at=NOW - dt.timedelta(seconds=100),
        phase=phase,
        deletion_reason=deletion,
        labels={HASH_LABEL: hash_},
        annotations=annotations,
    )
    health = "healthy" if ready_for is not None else "starting"  # the readiness probe's verdict
    container = ContainerView("running", health=health) if running and not phase.terminal and node else None
    return view, container


def plan(
    p: sl.StsParams,
    given: Sequence[tuple[PodView, ContainerView | None]] = (),
    *,
    ready_nodes: Sequence[str] = NODES,
    pins: dict[int, str] | None = None,
    removed: Sequence[str] = (),
) -> sl.Plan:
    containers: dict[str, dict[str, ContainerView]] = {n: {} for n in ready_nodes}
    for view, container in given:
        if container is not None and view.node in containers:
            containers[view.node][view.name] = container
    nodes = [placement.NodeView(n, n in ready_nodes) for n in NODES]
    return sl.plan_statefulset(
        p,
        [v for v, _ in given],
        frozenset(removed),
        containers,
        nodes,
        placement.Load(),
        pins or {},
        NOW,
        lambda: f"new{next(_uids)}",
    )


def summary(actions: Sequence[Action], given: Sequence[tuple[PodView, ContainerView | None]] = ()) -> list[str]:
    """Actions as words: `create web-1@n1`, `delete web-2 ScaledDown`, `bind web-1@n1`."""
    names = {v.uid: v.name for v, _ in given}
    out = []
    for a in actions:
        match a:
            case CreatePod(pod=v):
                out.append(f"create {v.name}@{v.node}")
            case DeletePod(pod_uid=uid, reason=reason):
                out.append(f"delete {names[uid]} {reason}")
            case BindPod(pod_uid=uid, node=node):
                out.append(f"bind {names.get(uid, uid)}@{node}")
    return out


ORDERED = [
    pytest.param(params(), [], ["create web-0@n0"], id="empty set: only web-0"),
    pytest.param(params(), [pod(0, ready_for=None)], [], id="web-0 not ready: web-1 waits"),
    pytest.param(params(min_ready_seconds=120), [pod(0)], [], id="web-0 ready but not for minReadySeconds"),
    pytest.param(params(), [pod(0), pod(1, "n1")], ["create web-2@n0"], id="0 and 1 available: web-2"),
    pytest.param(
        params(parallel=True), [], ["create web-0@n0", "create web-1@n1", "create web-2@n2"], id="Parallel: all at once"
    ),
    pytest.param(params(replicas=1), [pod(0), pod(1), pod(2)], ["delete web-2 ScaledDown"], id="scale-down: highest"),
    pytest.param(
        params(replicas=1), [pod(0), pod(1), pod(2, deletion="ScaledDown", running=False)], [], id="each gone first"
    ),
    pytest.param(
        params(replicas=1, parallel=True),
        [pod(0), pod(1), pod(2)],
        ["delete web-2 ScaledDown", "delete web-1 ScaledDown"],
        id="Parallel scale-down: together",
    ),
    pytest.param(
        params(replicas=1), [pod(0, ready_for=None), pod(1), pod(2)], [], id="unhealthy web-0 blocks scale-down"
    ),
]


@pytest.mark.parametrize(("p", "given", "expected"), ORDERED)
def test_ordered_ready_and_parallel(p: sl.StsParams, given: list[Any], expected: list[str]) -> None:
    """OrderedReady creates ordinal N once 0..N-1 are available and removes the highest first,
    each gone before the next; Parallel does both at once."""
    assert summary(plan(p, given).actions, given) == expected


ROLLING = [
    pytest.param(
        params(),
        [pod(0, hash_=OLD), pod(1, hash_=OLD), pod(2, hash_=OLD)],
        ["delete web-2 RollingUpdate"],
        id="highest first",
    ),
    pytest.param(
        params(),
        [pod(0, hash_=OLD), pod(1, hash_=OLD), pod(2, ready_for=None)],
        [],
        id="web-2 updated, not ready: wait",
    ),
    pytest.param(
        params(),
        [pod(0, hash_=OLD), pod(1, hash_=OLD), pod(2)],
        ["delete web-1 RollingUpdate"],
        id="web-2 ready: then web-1",
    ),
    pytest.param(params(partition=2), [pod(0, hash_=OLD), pod(1, hash_=OLD), pod(2)], [], id="partition 2: done"),
    pytest.param(
        params(on_delete=True), [pod(0, hash_=OLD), pod(1, hash_=OLD), pod(2, hash_=OLD)], [], id="OnDelete: nothing"
    ),
]


@pytest.mark.parametrize(("p", "given", "expected"), ROLLING)
def test_rolling_update_goes_down_from_the_highest_ordinal_to_the_partition(
    p: sl.StsParams, given: list[Any], expected: list[str]
) -> None:
    """Replace the highest ordinal >= partition not on the update revision, each available before the next."""
    assert summary(plan(p, given).actions, given) == expected


@pytest.mark.parametrize(
    ("p", "ordinal", "revision"),
    [
        (params(partition=2, current_hash=OLD), 0, OLD),
        (params(partition=2, current_hash=OLD), 2, NEW),
        (params(partition=2, current_hash=OLD, on_delete=True), 0, NEW),
    ],
)
def test_a_recreated_pod_below_the_partition_keeps_the_current_revision(
    p: sl.StsParams, ordinal: int, revision: str
) -> None:
    """As Kubernetes' newVersionedStatefulSetPod: below the partition the current revision, else the update."""
    given = [pod(i) for i in range(3) if i != ordinal]
    created = [a for a in plan(p, given).actions if isinstance(a, CreatePod)]
    assert [(c.pod.name, c.pod.labels[HASH_LABEL]) for c in created] == [(f"web-{ordinal}", revision)]


def test_a_new_pod_has_the_statefulset_labels_and_pins_its_volumes_node() -> None:
    """Labels pod-name and pod-index; with volume claims the replica is pinned to its first node."""
    result = plan(params(claims=("www",)), [pod(0, "n2")], pins={0: "n2"})
    (created,) = [a for a in result.actions if isinstance(a, CreatePod)]
    assert created.pod.labels[sl.POD_NAME_LABEL] == "web-1" and created.pod.labels[sl.POD_INDEX_LABEL] == "1"
    assert result.pins == {0: "n2", 1: created.pod.node}


def test_a_pinned_replica_comes_back_on_its_node_and_waits_pending_while_it_is_not_ready() -> None:
    """A deleted web-1 pinned to n2 is recreated there; with n2 NotReady it is recorded Pending, unbound,
    with a message naming n2, and bound to n2 once it is back; the others are unaffected."""
    p = params(claims=("www",))
    gone = pod(1, "n2", phase=PodPhase.FAILED)
    given = [pod(0, "n0"), gone, pod(2, "n1")]
    pins = {0: "n0", 1: "n2", 2: "n1"}
    back = plan(p, given, pins=pins, removed=[gone[0].uid])
    assert summary(back.actions, given) == ["create web-1@n2"] and back.forget == (gone[0].uid,)
    waiting = plan(p, given, pins=pins, removed=[gone[0].uid], ready_nodes=("n0", "n1"))
    (created,) = [a for a in waiting.actions if isinstance(a, CreatePod)]
    assert created.pod.node is None and created.pod.reason == sl.NODE_NOT_READY
    assert "'n2'" in created.pod.message and "www-web-1" in created.pod.message
    pending = PodView(**{**created.pod.__dict__, "created_at": NOW})
    again = [given[0], (pending, None), given[2]]
    assert summary(plan(p, again, pins=pins, ready_nodes=("n0", "n1")).actions, again) == []
    assert summary(plan(p, again, pins=pins).actions, again) == ["bind web-1@n2"]


def test_a_replacement_waits_until_the_old_container_is_removed() -> None:
    """The name is reused: no new web-1 while the old web-1's container may still exist."""
    old = pod(1, "n1", phase=PodPhase.FAILED)
    given = [pod(0), old, pod(2)]
    result = plan(params(), given)
    assert summary(result.actions, given) == [] and result.forget == ()
    assert result.status.lines[1].state == "Waiting"


def test_a_stop_asked_for_by_delete_pod_is_carried_out() -> None:
    """A pod marked Deleted (ctl delete pod) whose container still runs is stopped."""
    given = [pod(0), pod(1, deletion="Deleted"), pod(2)]
    assert summary(plan(params(), given).actions, given) == ["delete web-1 Deleted"]


def test_when_scaled_delete_drops_the_volumes_of_removed_ordinals_once_their_pods_are_gone() -> None:
    """whenScaled Delete: volumes of ordinals >= replicas go (pin dropped) once no container is left; Retain keeps them."""
    finished = pod(2, "n2", phase=PodPhase.FAILED)
    given = [pod(0, "n0"), finished]
    pins = {0: "n0", 2: "n2"}
    p = params(replicas=1, claims=("www", "logs"), delete_scaled_volumes=True)
    assert plan(p, given, pins=pins).remove_volumes == ()  # its container may still be there
    done = plan(p, given, pins=pins, removed=[finished[0].uid])
    assert done.remove_volumes == (("n2", "www-web-2"), ("n2", "logs-web-2")) and done.pins == {0: "n0"}
    kept = plan(params(replicas=1, claims=("www",)), given, pins=pins, removed=[finished[0].uid])
    assert kept.remove_volumes == () and kept.pins == pins


def test_status_counts_and_revisions() -> None:
    """replicas, ready, available, updated, current; currentRevision moves once all are updated and ready."""
    mid = plan(params(current_hash=OLD, min_ready_seconds=30), [pod(0, hash_=OLD), pod(1), pod(2, ready_for=10)])
    s = mid.status
    assert (s.replicas, s.ready, s.available, s.updated, s.current) == (3, 3, 2, 2, 1)
    assert (s.current_revision, s.update_revision) == (OLD, NEW)
    assert mid.wake_at == NOW + dt.timedelta(seconds=20)  # when web-2 becomes available
    done = plan(params(current_hash=OLD), [pod(0), pod(1), pod(2)]).status
    assert (done.current_revision, done.current) == (NEW, 3)
    as_dict = sl.status_to_dict(done, {0: "n0"})
    assert as_dict["readyReplicas"] == 3 and as_dict["replicaNodes"] == {"0": "n0"}
    assert sl.pins_of(as_dict) == {0: "n0"}


def test_readiness_changes_are_marked() -> None:
    """A pod that just became ready gets its READY_SINCE mark; one that is no longer ready loses it."""
    fresh = (pod(0, ready_for=None)[0], ContainerView("running", health="healthy"))
    stale = pod(1, ready_for=5, running=False)
    marks = dict(plan(params(replicas=2), [fresh, stale]).marks)
    assert marks[fresh[0].uid] is not None and marks[stale[0].uid] is None
