"""The dashboard's pure parts: the runs chart's geometry, and the log follow's hand-over from the page."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from miniorch.ui import logview, timeline

T0 = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)


def _run(name: str, start_min: int, seconds: float | None, outcome: str = "Complete") -> timeline.Run:
    start = T0 + dt.timedelta(minutes=start_min)
    return timeline.Run(name, start, None if seconds is None else start + dt.timedelta(seconds=seconds), outcome)


def test_bars_are_oldest_first_height_by_duration_class_by_outcome() -> None:
    runs = [_run("c", 2, None, "Running"), _run("a", 0, 10), _run("b", 1, 40, "Failed")]
    bars = timeline.bars(runs, now=T0 + dt.timedelta(minutes=2, seconds=20), href="/ui/k/jobs/default/")
    assert [(b.name, b.cls, b.duration) for b in bars] == [
        ("a", "ok", "10s"),
        ("b", "failed", "40s"),
        ("c", "running", "20s"),
    ]
    assert [b.height for b in bars] == [32.0, 128.0, 64.0]
    assert all(b.y + b.height == timeline.HEIGHT - timeline.BOTTOM for b in bars), "bars stand on one axis"
    assert bars[0].href == "/ui/k/jobs/default/a" and bars[0].started == "03:00:00"
    assert [b.x for b in bars] == sorted(b.x for b in bars)


@pytest.mark.parametrize(
    ("count", "shown", "first"),
    [(0, 0, None), (1, 1, "r000"), (timeline.MAX_RUNS, timeline.MAX_RUNS, "r000"), (45, timeline.MAX_RUNS, "r015")],
)
def test_only_the_latest_runs_are_drawn(count: int, shown: int, first: str | None) -> None:
    bars = timeline.bars([_run(f"r{i:03d}", i, 5) for i in range(count)], now=T0)
    assert len(bars) == shown and (bars[0].name if bars else None) == first
    assert all(b.x + b.width <= timeline.WIDTH for b in bars)


def test_runs_of_served_jobs() -> None:
    jobs: list[dict[str, Any]] = [
        {
            "metadata": {"name": "ok"},
            "status": {
                "startTime": "2026-01-01T03:00:00Z",
                "completionTime": "2026-01-01T03:00:09Z",
                "conditions": [{"type": "Complete", "status": "True"}],
            },
        },
        {
            "metadata": {"name": "bad"},
            "status": {
                "startTime": "2026-01-01T03:01:00Z",
                "conditions": [{"type": "Failed", "status": "True", "lastTransitionTime": "2026-01-01T03:01:30Z"}],
            },
        },
        {"metadata": {"name": "busy"}, "status": {"startTime": "2026-01-01T03:02:00Z"}},
        {"metadata": {"name": "queued"}, "status": {}},
    ]
    runs = timeline.runs_of(jobs)
    assert [(r.name, r.outcome, r.end and (r.end - r.start).total_seconds()) for r in runs] == [
        ("ok", "Complete", 9.0),
        ("bad", "Failed", 30.0),
        ("busy", "Running", None),
    ]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("2026-01-01T03:00:00.5Z x\n", ("2026-01-01T03:00:00", 500_000_000)),
        ("2026-01-01T03:00:00.123456789Z x\n", ("2026-01-01T03:00:00", 123_456_789)),
        ("2026-01-01T03:00:00Z x\n", ("2026-01-01T03:00:00", 0)),
        ("plain text\n", None),
    ],
)
def test_stamp_keys_keep_nanoseconds(line: str, key: tuple[str, int] | None) -> None:
    assert logview.stamp_key(line) == key


def test_the_page_log_is_unstamped_and_remembers_its_last_stamp() -> None:
    text = "2026-01-01T03:00:00.1Z one\n2026-01-01T03:00:00.25Z two\n"
    assert logview.split_log(text) == ("one\ntwo\n", "2026-01-01T03:00:00.25Z")
    assert logview.split_log("old plain\n") == ("old plain\n", "")


def test_the_follow_drops_what_the_page_showed_and_cuts_whole_lines() -> None:
    mark = logview.stamp_key("2026-01-01T03:00:00.25Z ")
    chunks: list[str | bytes] = [
        b"2026-01-01T03:00:00.1Z one\n2026-01-01T03:00:00.25Z two\n2026-01-01T03:0",
        b"0:00.3Z three\n",
        "2026-01-01T03:00:01Z four",
    ]

    async def source() -> AsyncIterator[str | bytes | memoryview]:
        for c in chunks:
            yield c

    async def collect() -> list[bytes]:
        return [c async for c in logview._filtered(source(), mark)]

    assert b"".join(asyncio.run(collect())) == b"three\nfour"
