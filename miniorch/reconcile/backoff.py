"""Pure backoff maths for retrying failed Job pods.

delay(n) = initial * 2^(n-1), capped, where n counts the failed runs since the
last success; the clock starts at the latest failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from miniorch.reconcile.views import PodPhase, PodView


def delay_seconds(failures: int, initial: float, cap: float) -> float:
    if failures <= 0:
        return 0.0
    return float(min(initial * 2 ** min(failures - 1, 62), cap))


def job_backoff_ready_at(pods: Sequence[PodView], initial: float, cap: float) -> dt.datetime | None:
    """When the next pod may be started, or None when no failure holds it back."""
    last_success = max((p.finished_at for p in pods if p.phase is PodPhase.SUCCEEDED and p.finished_at), default=None)
    return ready_at(last_success, pods, initial, cap)


def ready_at(
    last_success: dt.datetime | None, pods: Sequence[PodView], initial: float, cap: float
) -> dt.datetime | None:
    """`job_backoff_ready_at` given the latest success: `pods` need only hold those with failed runs."""
    recent = [
        p
        for p in pods
        if p.failures and p.last_failure_at and (last_success is None or p.last_failure_at > last_success)
    ]
    if not recent:
        return None
    n = sum(p.failures for p in recent)
    last = max(p.last_failure_at for p in recent if p.last_failure_at)
    return last + dt.timedelta(seconds=delay_seconds(n, initial, cap))
