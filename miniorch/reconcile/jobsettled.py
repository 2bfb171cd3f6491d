"""A Job's finished pods summed up once, so that a pass walks only its unfinished ones (pure).

A finished pod (Succeeded or Failed) never changes what it adds to the Job's counts, so a big
Job's thousands of them are folded into a `Settled` as each one finishes, instead of being
walked by every pass. What depends on a pod's details or on the pods' order (failures, the
podFailurePolicy, the backoff clock, the last refused start) keeps the pod itself in `notable`:
the finished pods that are Failed or have failed runs, normally few, in the Job's pod order
(each is added with its place in it: creation time, then the order the pods were made).
Whoever builds a `Settled` owns it; `plan_job` only reads it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable

from miniorch.reconcile.views import PodPhase, PodView

Place = tuple[dt.datetime, int]  # a pod's place in the Job's pod order: (created_at, then the order made)
_GIVEN = dt.datetime.min.replace(tzinfo=dt.UTC)  # `split`: the order given is the pod order


class Settled:
    """The finished pods of one Job: counts, indexes and the notable pods, in pod order."""

    def __init__(self) -> None:
        self.count = 0  # finished pods
        self.succeeded = 0
        self.succeeded_indexes: set[int] = set()  # read-only for everyone but `add`
        self.last_success: dt.datetime | None = None  # the latest finished_at of a Succeeded pod
        self.notable: list[PodView] = []  # Failed, or with failed runs: in pod order
        self._places: list[Place] = []  # notable's places
        self._runs: list[list[int]] = []  # succeeded_indexes as sorted [first, last] runs
        self._text: str | None = ""  # their Kubernetes interval list (None: to be made again)
        self.lowest_open = 0  # the lowest index that has not succeeded

    def add(self, pod: PodView, place: Place) -> None:
        """One more finished pod (a pod is added once), at `place` in the Job's pod order."""
        self.count += 1
        if pod.phase is PodPhase.SUCCEEDED:
            self.succeeded += 1
            if pod.finished_at is not None and (self.last_success is None or pod.finished_at > self.last_success):
                self.last_success = pod.finished_at
            if pod.completion_index is not None:
                self._index_succeeded(pod.completion_index)
        if pod.phase is PodPhase.FAILED or pod.failures:
            at = bisect.bisect_right(self._places, place)  # pods mostly finish in order: at the end
            self._places.insert(at, place)
            self.notable.insert(at, pod)

    def _index_succeeded(self, index: int) -> None:
        if index in self.succeeded_indexes:
            return
        self.succeeded_indexes.add(index)
        self._text = None
        runs = self._runs
        at = bisect.bisect_left(runs, [index, index])
        joins_left = at > 0 and runs[at - 1][1] == index - 1
        joins_right = at < len(runs) and runs[at][0] == index + 1
        if joins_left and joins_right:
            runs[at - 1][1] = runs[at][1]
            del runs[at]
        elif joins_left:
            runs[at - 1][1] = index
        elif joins_right:
            runs[at][0] = index
        else:
            runs.insert(at, [index, index])
        while self.lowest_open in self.succeeded_indexes:
            self.lowest_open += 1

    def completed_indexes(self) -> str:
        """`indexes.format_intervals(succeeded_indexes)`, from the runs kept as they grew."""
        if self._text is None:
            parts: list[str] = []
            for first, last in self._runs:
                if last - first >= 2:
                    parts.append(f"{first}-{last}")
                else:
                    parts.extend(str(v) for v in range(first, last + 1))
            self._text = ",".join(parts)
        return self._text


def split(pods: Iterable[PodView]) -> tuple[Settled, list[PodView]]:
    """(the finished pods summed up, the others), both in the order given (taken as pod order)."""
    settled, unfinished = Settled(), []
    for i, pod in enumerate(pods):
        if pod.phase.terminal:
            settled.add(pod, (_GIVEN, i))
        else:
            unfinished.append(pod)
    return settled, unfinished
