"""A CronJob's recent runs as an SVG bar chart: pure geometry from (runs, now), drawn by a template.

One bar per run, oldest on the left; its height is the run's duration (scaled to the longest shown),
its class the outcome (ok, failed, running), its label the start time and the duration. A chart of
bars rather than a time axis: a 5 s job every hour would be a hairline on a day's axis.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from miniorch.cli import output
from miniorch.kinds import status as status_mod

WIDTH = 760
HEIGHT = 180
TOP = 22  # room for the duration label over the tallest bar
BOTTOM = 30  # room for the start time under the bars
MAX_RUNS = 30


@dataclass(frozen=True)
class Run:
    name: str
    start: dt.datetime
    end: dt.datetime | None  # None: still running
    outcome: str  # Complete, Failed, Running


@dataclass(frozen=True)
class Bar:
    name: str
    href: str
    x: float
    y: float
    width: float
    height: float
    cls: str
    duration: str
    started: str
    title: str

    @property
    def middle(self) -> float:
        return self.x + self.width / 2


CLASSES = {"Complete": "ok", "Failed": "failed"}


def bars(runs: Sequence[Run], now: dt.datetime, href: str = "") -> list[Bar]:
    """The last MAX_RUNS runs by start, oldest first; `href` + name links each bar to its Job."""
    shown = sorted(runs, key=lambda r: (r.start, r.name))[-MAX_RUNS:]
    if not shown:
        return []
    seconds = [max(0.0, ((r.end or now) - r.start).total_seconds()) for r in shown]
    longest = max(max(seconds), 1.0)
    slot = WIDTH / max(len(shown), 8)  # a few runs do not make giant bars
    usable = HEIGHT - TOP - BOTTOM
    out = []
    for i, (run, secs) in enumerate(zip(shown, seconds, strict=True)):
        height = max(2.0, usable * secs / longest)
        duration = output.human_duration(secs)
        started = run.start.astimezone(dt.UTC).strftime("%H:%M:%S")
        out.append(
            Bar(
                name=run.name,
                href=href + run.name if href else "",
                x=round(i * slot + slot * 0.15, 1),
                y=round(TOP + usable - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                cls=CLASSES.get(run.outcome, "running"),
                duration=duration,
                started=started,
                title=f"{run.name}: {run.outcome}, {duration}, started {output.ts(run.start)}",
            )
        )
    return out


def _end(status: Mapping[str, Any], outcome: str) -> dt.datetime | None:
    """completionTime, else (a failed Job has none) when its Failed condition turned True."""
    end = output.parse_ts(status.get("completionTime"))
    if end is None and outcome == "Failed":
        failed = [c for c in status.get("conditions") or [] if c.get("type") == "Failed"]
        end = output.parse_ts(failed[0].get("lastTransitionTime")) if failed else None
    return end


def runs_of(jobs: Sequence[Mapping[str, Any]]) -> list[Run]:
    """Runs from served Jobs (`render.obj`) that have started (a Job not started yet is no bar)."""
    out = []
    for job in jobs:
        status, meta = job.get("status") or {}, job["metadata"]
        start = output.parse_ts(status.get("startTime"))
        if start is None:
            continue
        outcome = status_mod.job_outcome(status) or "Running"
        end = _end(status, outcome)
        out.append(Run(str(meta["name"]), start, end if outcome != "Running" else None, outcome))
    return out
