"""Where the daemon's memory goes, on request: with tracemalloc on (PYTHONTRACEMALLOC=N in the
daemon's environment), SIGUSR2 logs the allocation sites that grew most since the last signal.

Off by default: tracing every allocation costs CPU and memory. A signal with tracing off logs
how to turn it on.
"""

from __future__ import annotations

import tracemalloc

import structlog

log = structlog.get_logger(__name__)

TOP = 25  # allocation sites per report
FRAMES = 6  # innermost frames shown per site


class MemoryReport:
    """Each `report()` compares a snapshot with the one the previous report took."""

    def __init__(self) -> None:
        self._last: tracemalloc.Snapshot | None = None

    def report(self) -> None:
        if not tracemalloc.is_tracing():
            log.warning(
                "memory_report_unavailable",
                why="tracemalloc is off",
                fix="start the daemon with PYTHONTRACEMALLOC=10 in its environment, then send SIGUSR2 again",
            )
            return
        snapshot = tracemalloc.take_snapshot().filter_traces((tracemalloc.Filter(False, tracemalloc.__file__),))
        stats: list[tracemalloc.Statistic | tracemalloc.StatisticDiff]
        if self._last is None:
            stats = list(snapshot.statistics("traceback"))
        else:
            diffs = snapshot.compare_to(self._last, "traceback")
            diffs.sort(key=lambda diff: diff.size_diff, reverse=True)
            stats = list(diffs)
        first, self._last = self._last is None, snapshot
        traced, peak = tracemalloc.get_traced_memory()
        log.info(
            "memory_report",
            traced_mib=round(traced / 2**20, 1),
            peak_mib=round(peak / 2**20, 1),
            since="start" if first else "last report",
            top=[_site(stat) for stat in stats[:TOP]],
        )


def _site(stat: tracemalloc.Statistic | tracemalloc.StatisticDiff) -> dict[str, object]:
    site: dict[str, object] = {"kib": round(stat.size / 1024, 1), "blocks": stat.count}
    if isinstance(stat, tracemalloc.StatisticDiff):
        site["kib_diff"] = round(stat.size_diff / 1024, 1)
        site["blocks_diff"] = stat.count_diff
    site["where"] = [f"{frame.filename}:{frame.lineno}" for frame in list(stat.traceback)[-FRAMES:]]
    return site
