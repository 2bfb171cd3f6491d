"""Pure handling of pod log text: bounding a stored tail, and picking lines by run, time and count.

Stored tails keep Docker's timestamp on each line (`2026-01-02T03:04:05.123456789Z text`), so
`ctl logs --timestamps`, `--since` and `--previous` work after the container is gone; the
timestamp is stripped again unless the user asked for it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_LINES = 2000
MAX_BYTES = 256 * 1024
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ")


def bound(raw: bytes, max_bytes: int = MAX_BYTES, max_lines: int = MAX_LINES) -> str:
    """The last whole lines of `raw` within both limits (a cut never leaves half a line, so
    every kept line still starts with its timestamp)."""
    if len(raw) > max_bytes:
        cut = raw[-max_bytes:]
        newline = cut.find(b"\n")
        raw = cut[newline + 1 :] if newline >= 0 else b""
    ends_open = bool(raw) and not raw.endswith(b"\n")
    if raw.count(b"\n") + ends_open > max_lines:
        raw = b"\n".join(raw.split(b"\n")[-max_lines - (not ends_open) :])
    return raw.decode("utf-8", errors="replace")


def lines_of(text: str) -> list[str]:
    """The lines of a log, each with its newline: split on "\n" only (a "\r" of a progress bar stays inside)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def stamp_of(line: str) -> dt.datetime | None:
    """The timestamp Docker put at the start of `line` (microseconds kept), or None."""
    found = _STAMP.match(line)
    if found is None:
        return None
    frac = (found.group(2) or "0")[:6]
    return dt.datetime.fromisoformat(f"{found.group(1)}.{frac.ljust(6, '0')}+00:00")


def strip_stamp(line: str) -> str:
    found = _STAMP.match(line)
    return line[found.end() :] if found else line


@dataclass(frozen=True)
class Window:
    """Lines with start <= timestamp < end (None: unbounded on that side)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def holds(self, when: dt.datetime | None) -> bool:
        if when is None:
            return self.start is None and self.end is None
        return (self.start is None or when >= self.start) and (self.end is None or when < self.end)


def previous_run(
    run_started_at: dt.datetime | None, previous_run_started_at: dt.datetime | None, current_start: dt.datetime | None
) -> Window:
    """The run before the current one. `current_start` is the container's StartedAt as the node
    reports it now (None once the container is gone); the store knows the latest recorded run's
    start and the one before. A run restarted since the last record makes the recorded run the
    previous one."""
    if current_start is not None and run_started_at is not None and current_start > run_started_at:
        return _early(run_started_at, current_start)
    return _early(previous_run_started_at, run_started_at or current_start)


#: Docker stamps a run's first lines a few milliseconds before the StartedAt it reports, and runs of
#: one container are at least 100 ms apart (Docker's first restart delay; a Job's backoff is >= 1 s):
#: run boundaries are taken this much before each start.
BOUNDARY_MARGIN = dt.timedelta(milliseconds=50)


def _early(start: dt.datetime | None, end: dt.datetime | None) -> Window:
    return Window(
        start - BOUNDARY_MARGIN if start is not None else None, end - BOUNDARY_MARGIN if end is not None else None
    )


def select(
    text: str,
    *,
    window: Window | None = None,
    since: dt.datetime | None = None,
    tail: int | None = None,
    timestamps: bool = False,
) -> str:
    """The lines of a timestamped log inside `window`, at or after `since`, the last `tail`
    of them, with their timestamps only when `timestamps`."""
    lines: Iterable[str] = lines_of(text)
    if window is not None:
        lines = [line for line in lines if window.holds(stamp_of(line))]
    if since is not None:
        lines = [line for line in lines if (when := stamp_of(line)) is not None and when >= since]
    kept = list(lines)
    if tail is not None:
        kept = kept[-tail:] if tail > 0 else []
    return "".join(kept if timestamps else (strip_stamp(line) for line in kept))
