"""Builders shared by the pure-planning unit tests: time, ids and the `pi` Job.

Deterministic on purpose: a fixed clock and counter-based pod ids.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Mapping, Sequence

from miniorch.reconcile import job as job_mod
from miniorch.reconcile.placement import Load, NodeView
from miniorch.reconcile.views import PodView

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
TIMING = job_mod.Timing(backoff_initial=10.0, backoff_max=360.0)
NODES = (NodeView("node0", ready=True), NodeView("node1", ready=True))


def seconds(n: float) -> dt.timedelta:
    """A timedelta of n seconds."""
    return dt.timedelta(seconds=n)


def counter_ids() -> Callable[[], tuple[str, str]]:
    """A deterministic new_id: ('n1', 'uid-1'), ('n2', 'uid-2'), ..."""
    counter = itertools.count(1)

    def new_id() -> tuple[str, str]:
        n = next(counter)
        return f"n{n}", f"uid-{n}"

    return new_id


def plan(
    job: job_mod.JobParams,
    pods: Sequence[PodView] = (),
    previous: job_mod.JobStatus | None = None,
    nodes: Sequence[NodeView] = NODES,
    now: dt.datetime = NOW,
    load: Load | Mapping[str, int] | None = None,
) -> job_mod.JobPlan:
    """plan_job with test defaults."""
    return job_mod.plan_job(
        job,
        previous or job_mod.JobStatus(),
        list(pods),
        nodes,
        load if isinstance(load, Load) else Load(dict(load or {})),
        now,
        TIMING,
        counter_ids(),
    )
