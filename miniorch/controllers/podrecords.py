"""Adapters between the store's and nodes' records and the pure layer's views.

`view_of` / `record_of` / `merge` turn a `PodRecord` into the planners' `PodView` and back
(the store-only fields, logs and `container_removed`, are kept or set here). The functions
below run `reconcile.pods` and `reconcile.startretry` on records, with the same names and
arguments the pod runner and the pod sync call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from miniorch.nodes import records as nr
from miniorch.nodes.events import RunEnd
from miniorch.reconcile import pods, revisions, startretry
from miniorch.reconcile.pods import EVICTED, NODE_LOST, NOT_COUNTED, Missing
from miniorch.reconcile.views import ContainerView, PodView
from miniorch.store.records import PodRecord, RevisionRecord

__all__ = ["EVICTED", "NODE_LOST", "NOT_COUNTED", "Missing"]

_POD_FIELDS = tuple(f.name for f in dataclasses.fields(PodView))
_pod_values = operator.attrgetter(*_POD_FIELDS)  # in PodView's field order; C speed (every pass, every pod)
_CONTAINER_FIELDS = tuple(f.name for f in dataclasses.fields(ContainerView))
_REVISION_FIELDS = tuple(f.name for f in dataclasses.fields(revisions.Revision))


def view_of(pod: PodRecord) -> PodView:
    return PodView(*_pod_values(pod))


def views_of(pods: Sequence[PodRecord]) -> list[PodView]:
    return [view_of(p) for p in pods]


def record_of(pod: PodView) -> PodRecord:
    """A new pod a planner made, as the store keeps it (no log yet)."""
    return PodRecord(**dict(zip(_POD_FIELDS, _pod_values(pod), strict=True)))


def merge(record: PodRecord, view: PodView, **store_fields: Any) -> PodRecord:
    """`record` updated with what a pure function decided (`view`) and store-only fields."""
    changed = {name: value for name in _POD_FIELDS if (value := getattr(view, name)) != getattr(record, name)}
    changed.update(store_fields)
    return dataclasses.replace(record, **changed) if changed else record


def container_view(state: nr.ContainerState) -> ContainerView:
    return ContainerView(**{name: getattr(state, name) for name in _CONTAINER_FIELDS})


def containers_view(listing: Mapping[str, Mapping[str, nr.ContainerState]]) -> dict[str, dict[str, ContainerView]]:
    """node -> pod name -> container, as the DaemonSet planner reads it."""
    return {node: {name: container_view(c) for name, c in found.items()} for node, found in listing.items()}


def revision_view(rec: RevisionRecord) -> revisions.Revision:
    return revisions.Revision(**{name: getattr(rec, name) for name in _REVISION_FIELDS})


def revision_record(rev: revisions.Revision) -> RevisionRecord:
    return RevisionRecord(**{name: getattr(rev, name) for name in _REVISION_FIELDS})


# -- reconcile.pods on records ------------------------------------------------------
def on_running(pod: PodRecord, state: nr.ContainerState, now: dt.datetime) -> PodRecord:
    return merge(pod, pods.on_running(view_of(pod), container_view(state), now))


def on_exit(
    pod: PodRecord,
    state: nr.ContainerState,
    restart_policy: str,
    log_tail: str,
    now: dt.datetime,
    timestamped: bool = False,
) -> PodRecord:
    """One finished run, with its log: `timestamped` says each line of `log_tail` starts with
    Docker's timestamp (what `ctl logs --timestamps/--since/--previous` need once it is gone)."""
    done = pods.on_exit(view_of(pod), container_view(state), restart_policy, now)
    return merge(pod, done, log_tail=log_tail, log_timestamped=timestamped)


def on_missing(pod: PodRecord, node_reachable: bool, in_flight: bool) -> Missing:
    return pods.on_missing(view_of(pod), node_reachable, in_flight)


def gone(pod: PodRecord, now: dt.datetime) -> PodRecord:
    return merge(pod, pods.gone(view_of(pod), now), container_removed=True)


def unreachable(pod: PodRecord) -> PodRecord:
    return merge(pod, pods.unreachable(view_of(pod)))


def lost(pod: PodRecord, now: dt.datetime) -> PodRecord:
    return merge(pod, pods.lost(view_of(pod), now))


def start_failed(pod: PodRecord, reason: str, message: str, now: dt.datetime) -> PodRecord:
    return merge(pod, pods.start_failed(view_of(pod), reason, message, now))


def on_docker_restart(pod: PodRecord, state: nr.ContainerState) -> PodRecord:
    return merge(pod, pods.on_docker_restart(view_of(pod), container_view(state)))


# -- reconcile.startretry on records ------------------------------------------------
def refused(
    pod: PodRecord,
    reason: startretry.StartError,
    message: str,
    now: dt.datetime,
    policy: startretry.RetryPolicy = startretry.DEFAULT,
) -> tuple[PodRecord, startretry.Decision]:
    updated, decision = startretry.refused(view_of(pod), reason, message, now, policy)
    return merge(pod, updated), decision


def due(pod: PodRecord, now: dt.datetime, policy: startretry.RetryPolicy = startretry.DEFAULT) -> bool:
    return startretry.due(view_of(pod), now, policy)


def event_message(pod: PodRecord, message: str) -> str:
    return startretry.event_message(view_of(pod), message)


SIGKILLED = 128 + 9  # the exit code of a SIGKILLed process, as the kernel's OOM killer leaves it


def told_exit(pod: PodRecord, restart_policy: str, end: RunEnd | None, node: str) -> nr.ContainerState | None:
    """The exited container as its `die` event told it, when that is all the settle needs; None
    when it must inspect: the stream did not see the whole run; an `oom` came, or it was
    SIGKILLed (OOMKilled is in the inspect, and the `oom` event may come after the `die`); a
    `kill` not sent by us came (the engine's own shutdown kills before the `die`: that pod is
    left to node loss handling, not recorded as failed); or the pod may restart (its run
    history takes Docker's own StartedAt)."""
    if end is None or end.oom or end.exit_code == SIGKILLED or (end.killed and not pod.deletion_reason):
        return None
    if restart_policy != "Never" or pod.restart_pending or pod.restart_count:
        return None
    return nr.ContainerState(
        id="",
        name=pod.name,
        node=node,
        labels={},
        status="exited",
        exit_code=end.exit_code,
        started_at=end.started_at,
        finished_at=end.finished_at,
    )
