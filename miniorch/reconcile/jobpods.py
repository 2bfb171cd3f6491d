"""The pods a Job wants: how many, which indexes, in which order to stop them, and new ones.

Pure helpers of `reconcile.job`; a new pod is a `PodView` whose creation time is the
planner's `now`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from miniorch.reconcile import backoff, jobcount, placement
from miniorch.reconcile.jobparams import JobParams, Timing
from miniorch.reconcile.views import PodPhase, PodView

INDEX_KEY = "batch.kubernetes.io/job-completion-index"


def want_active(job: JobParams, succeeded: int, active: int) -> int:
    """How many pods should be running now (Kubernetes manageJob), NonIndexed."""
    if job.suspend:
        return 0
    if job.completions is None:
        return active if succeeded > 0 else job.parallelism
    return max(0, min(job.completions - succeeded, job.parallelism))


def deletion_order(pod: PodView) -> tuple[int, int, float]:
    """Unscheduled before scheduled, pending before running, newest first."""
    return (pod.node is not None, pod.phase is PodPhase.RUNNING, -pod.created_at.timestamp())


def new_pod(
    job: JobParams,
    suffix: str,
    uid: str,
    node: placement.Placement,
    now: dt.datetime,
    index: int | None,
    index_failures: int,
) -> PodView:
    labels = {
        **job.pod_labels,
        "job-name": job.name,
        "batch.kubernetes.io/job-name": job.name,
        "controller-uid": job.uid,
        "batch.kubernetes.io/controller-uid": job.uid,
    }
    annotations = dict(job.pod_annotations)
    name = f"{job.name}-{suffix}"
    if index is not None:
        name = f"{job.name}-{index}-{suffix}"
        labels[INDEX_KEY] = annotations[INDEX_KEY] = str(index)
        if job.backoff_limit_per_index is not None:
            annotations["batch.kubernetes.io/job-index-failure-count"] = str(index_failures)
    return PodView(
        uid=uid,
        name=name,
        namespace=job.namespace,
        owner_kind="Job",
        owner_name=job.name,
        owner_uid=job.uid,
        node=node.node,
        phase=PodPhase.PENDING,
        reason="" if node.node else "Unschedulable",
        message=node.reason,
        created_at=now,
        completion_index=index,
        labels=labels,
        annotations=annotations,
        cpu_request=job.requests.cpu,
        memory_request=job.requests.memory,
    )


def want(job: JobParams, tally: jobcount.Tally, failed_idx: set[int]) -> int:
    """How many pods should be running now, NonIndexed or Indexed."""
    if not job.indexed or job.completions is None:
        return want_active(job, tally.succeeded, len(tally.active))
    if job.suspend:
        return 0
    done = len(tally.succeeded_indexes) + len(failed_idx - tally.succeeded_indexes)  # the union's size
    remaining = job.completions - done
    return max(0, min(remaining, job.parallelism))


def slots(
    job: JobParams,
    tally: jobcount.Tally,
    failed_idx: set[int],
    active: list[PodView],
    pods: Sequence[PodView],
    now: dt.datetime,
    timing: Timing,
    count: int,
) -> tuple[list[int | None], dt.datetime | None]:
    """Which pods to create: `count` NonIndexed pods, or the lowest free indexes out of backoff.
    `pods`: the unfinished ones (the finished are `tally.settled`)."""
    if not job.indexed or job.completions is None:
        return [None] * count, None
    busy = {p.completion_index for p in active + tally.terminating}
    out: list[int | None] = []
    wake: dt.datetime | None = None
    failing: dict[int, list[PodView]] = {}  # index -> its pods with failed runs
    if job.backoff_limit_per_index is not None:
        for p in itertools.chain(tally.settled.notable, pods):
            if p.failures and p.completion_index is not None:
                failing.setdefault(p.completion_index, []).append(p)
    # Every index below `lowest_open` has succeeded: a big Job's pass does not walk them.
    for index in range(tally.settled.lowest_open, job.completions):
        if len(out) >= count:
            break
        if index in busy or index in tally.succeeded_indexes or index in failed_idx:
            continue
        if job.backoff_limit_per_index is not None:
            # An index not succeeded has no Succeeded pod: only its failed runs set its clock.
            ready = backoff.ready_at(None, failing.get(index, []), timing.backoff_initial, timing.backoff_max)
            if ready is not None and now < ready:
                wake = earliest(wake, ready)
                continue
        out.append(index)
    return out, wake


def earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return min((t for t in (a, b) if t is not None), default=None)
