"""Pure: which store events are facts worth a notification, and the fact each one makes.

Every fact is already recorded as a Warning event by the controller that saw it: a Job's
failure condition, a CronJob's missed slot or failed Job creation, a DaemonSet pod recreated
after crashing, a node turning NotReady. Events are aggregated (count), so one occurrence
is the pair (event id, count): its `key`. No I/O here; `collector` feeds it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from miniorch.alerts.receivers import FactType
from miniorch.spec.enums import EventReason

CRASHLOOP_RESTARTS = 3  # restarts in place after which a DaemonSet/StatefulSet pod is crash-looping
LOG_LINES = 20  # the last lines of the failing pod's log a notification carries
LOG_BYTES = 4000  # and at most this much of them

_JOB_FAILURES = frozenset(
    {
        EventReason.BACKOFF_LIMIT_EXCEEDED,
        EventReason.DEADLINE_EXCEEDED,
        EventReason.POD_FAILURE_POLICY,
        EventReason.MAX_FAILED_INDEXES_EXCEEDED,
        EventReason.FAILED_INDEXES,
    }
)
#: (involved kind, reason) of the Warning events that are facts. StatefulSet pods: the reasons
#: its controller records when it recreates a crashed pod (as DaemonSets do), or kubelet's words.
RULES: dict[tuple[str, str], FactType] = {
    **{("Job", str(reason)): FactType.JOB_FAILED for reason in _JOB_FAILURES},
    ("CronJob", EventReason.MISS_SCHEDULE): FactType.CRONJOB_MISSED,
    ("CronJob", "FailedCreate"): FactType.CRONJOB_MISSED,
    ("DaemonSet", EventReason.FAILED_DAEMON_POD): FactType.DAEMONSET_POD_CRASHLOOPING,
    ("StatefulSet", "FailedStatefulSetPod"): FactType.STATEFULSET_POD_CRASHLOOPING,
    ("StatefulSet", "CrashLoopBackOff"): FactType.STATEFULSET_POD_CRASHLOOPING,
    ("StatefulSet", "BackOff"): FactType.STATEFULSET_POD_CRASHLOOPING,
    ("Node", "NodeNotReady"): FactType.NODE_NOT_READY,
}
#: The reasons the collector asks the store for (a narrow, indexed read).
REASONS = tuple(sorted({reason for _, reason in RULES}))


@dataclass(frozen=True)
class EventView:
    """What a fact needs of a stored event."""

    id: int
    namespace: str
    kind: str
    name: str
    uid: str
    type: str
    reason: str
    message: str
    count: int
    time: dt.datetime


@dataclass(frozen=True)
class PodView:
    """What a fact needs of one of the object's pods (candidates for "the failing pod")."""

    name: str
    node: str | None
    failed: bool  # phase Failed, or a non-zero exit waiting for its restart
    finished_at: dt.datetime | None
    log: str  # the stored tail, timestamps stripped


@dataclass(frozen=True)
class Fact:
    key: str  # one occurrence: "event:<id>:<count>"
    type: FactType
    kind: str
    namespace: str
    name: str
    uid: str
    reason: str
    message: str
    node: str | None
    pod: str | None
    log: str
    time: dt.datetime
    owner: str | None = None  # the CronJob of a failed Job


def classify(event: EventView) -> FactType | None:
    """The fact type of an event, or None when it is not one."""
    if event.type != "Warning":
        return None
    return RULES.get((event.kind, event.reason))


def key_of(event: EventView) -> str:
    return f"event:{event.id}:{event.count}"


def failing_pod(pods: Sequence[PodView], message: str) -> PodView | None:
    """The pod the fact is about: a failed pod the message names, else the last one to fail."""
    failed = [p for p in pods if p.failed]
    named = [p for p in failed if p.name in message]
    pool = named or failed
    if not pool:
        return None
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    return max(pool, key=lambda p: (p.finished_at or floor, p.name))


def last_lines(text: str, lines: int = LOG_LINES, max_bytes: int = LOG_BYTES) -> str:
    """The last `lines` lines of `text`, cut to `max_bytes` characters from the end."""
    kept = "\n".join(text.rstrip("\n").split("\n")[-lines:]) if text.strip() else ""
    return kept[-max_bytes:]


@dataclass(frozen=True)
class RestartingPod:
    """A DaemonSet or StatefulSet pod that Docker keeps restarting in place (no event says so)."""

    uid: str
    name: str
    namespace: str
    owner_kind: str
    owner_name: str
    owner_uid: str
    node: str | None
    restart_count: int
    last_exit_code: int | None
    time: dt.datetime


_CRASHLOOP_TYPE = {
    "DaemonSet": FactType.DAEMONSET_POD_CRASHLOOPING,
    "StatefulSet": FactType.STATEFULSET_POD_CRASHLOOPING,
}


def crashloop_key(pod: RestartingPod) -> str | None:
    """The key of the pod's crash-loop fact (one per pod), or None while it is not crash-looping."""
    if pod.owner_kind not in _CRASHLOOP_TYPE or pod.restart_count < CRASHLOOP_RESTARTS:
        return None
    return f"pod:{pod.uid}:crashloop"


def crashloop(pod: RestartingPod, log: str) -> Fact | None:
    """The crash-loop fact of a pod (worded as the kubelet's BackOff event), or None."""
    key = crashloop_key(pod)
    if key is None:
        return None
    code = f", last exit code {pod.last_exit_code}" if pod.last_exit_code is not None else ""
    return Fact(
        key=key,
        type=_CRASHLOOP_TYPE[pod.owner_kind],
        kind=pod.owner_kind,
        namespace=pod.namespace,
        name=pod.owner_name,
        uid=pod.owner_uid,
        reason="CrashLoopBackOff",
        message=f"Back-off restarting failed container of pod {pod.name}: restarted {pod.restart_count} times{code}",
        node=pod.node,
        pod=pod.name,
        log=last_lines(log),
        time=pod.time,
    )


def build(event: EventView, pods: Sequence[PodView], owner: str | None = None) -> Fact | None:
    """The fact of `event` with its failing pod's node and log, or None when it is no fact."""
    fact_type = classify(event)
    if fact_type is None:
        return None
    pod = failing_pod(pods, event.message) if fact_type is not FactType.NODE_NOT_READY else None
    node = event.name if fact_type is FactType.NODE_NOT_READY else (pod.node if pod else None)
    return Fact(
        key=key_of(event),
        type=fact_type,
        kind=event.kind,
        namespace="" if fact_type is FactType.NODE_NOT_READY else event.namespace,  # nodes have none
        name=event.name,
        uid=event.uid,
        reason=event.reason,
        message=event.message,
        node=node,
        pod=pod.name if pod else None,
        log=last_lines(pod.log) if pod else "",
        time=event.time,
        owner=owner,
    )
