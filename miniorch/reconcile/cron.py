"""Cron schedules: slot maths in an IANA zone, with Debian cron's DST rule (parsing: `spec.cron`, re-exported).

Pure: every function takes the times it needs. A schedule whose hour field is a wildcard
(`*`, `*/N`, @hourly) runs whenever the local clock shows a matching time, so it follows
elapsed time through DST; a fixed-hour one runs each wall-clock slot once, slots skipped
by a spring-forward right after the jump (see "DST" below). Any gap costs constant time.
"""

from __future__ import annotations

import datetime as dt

from miniorch.spec.cron import MACROS, UTC, ZONE_HINT, Schedule, next_wall, parse, prev_wall, zone

__all__ = ["MACROS", "UTC", "ZONE_HINT", "Schedule", "instant", "job_name", "last_slot", "next_slot", "parse", "zone"]

_SECOND = dt.timedelta(seconds=1)


# -- wall clock <-> instants --------------------------------------------------------
def _wall(t: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The naive wall-clock reading of instant `t` in `tz`, whole seconds."""
    return t.astimezone(tz).replace(tzinfo=None, microsecond=0)


def _passes(wall: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of the fold=0 and fold=1 readings: equal normally, ordered in a repeat, reversed in a gap."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC), wall.replace(tzinfo=tz, fold=1).astimezone(UTC)


def _transition(lo: dt.datetime, hi: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The first instant in (lo, hi] with hi's UTC offset (offsets change once in between)."""
    target = hi.astimezone(tz).utcoffset()
    low, high = int(lo.timestamp()), int(hi.timestamp())
    while high - low > 1:
        mid = (low + high) // 2
        if dt.datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == target:
            high = mid
        else:
            low = mid
    return dt.datetime.fromtimestamp(high, UTC)


def _repeated(wall: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime] | None:
    """The wall-clock range [start, end) a fall-back shows twice, if `wall` lies in one."""
    first, second = _passes(wall, tz)
    if first >= second:
        return None
    start = _wall(_transition(first, second, tz), tz)
    return start, start + (second - first)


def instant(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """When the wall-clock slot `wall` first shows: its first occurrence, or the jump for a skipped time."""
    first, second = _passes(wall, tz)
    if first <= second:
        return first  # normal, or repeated by a fall-back (first occurrence)
    return _transition(second, first, tz)  # skipped by a spring-forward: fold=1 gives the earlier instant


# -- DST: the hour field decides (DESIGN.md 13), as Debian cron's find_jobs(doWild, doNonWild) --
# Wildcard hour (`*`, `?`, `*/N`, or a list part so written; @hourly): fires at every instant
# whose local wall time matches, the clock as lived: a repeated autumn hour fires again, a
# skipped spring hour does not, so an hour-`*` schedule keeps its elapsed step through both (a
# step over hours keeps to the clock: `0 */2` runs 02:00 in both passes).
# Fixed hour (`2`, `1-3`, `1,5`; @daily ...): each matching wall time fires once, when the clock
# first reaches it: the first pass of a repeated hour; right after the jump for a skipped time
# (the skipped slots share that instant, so one Job). Debian also counts a `*` minute as a
# wildcard; here `*/15 2 * * *` is fixed-hour: hour 2 runs once a night, never twice or not at all.
def _fixed_search_start(t: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The last wall time whose fixed-hour slot fires at or before `t` (whole seconds, naive)."""
    repeat = _repeated(_wall(t, tz), tz) if t.astimezone(tz).fold else None
    return _wall(t, tz) if repeat is None else repeat[1] - _SECOND  # second pass: the first ran them all


def _first_lived(s: Schedule, start: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """The first instant showing a matching wall time >= start, outside any second pass."""
    wall = next_wall(s, start)
    while wall is not None:
        first, second = _passes(wall, tz)
        if first <= second:
            return first
        wall = next_wall(s, _wall(_transition(second, first, tz), tz))  # skipped: go on from the jump
    return None


def _last_lived(s: Schedule, start: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """The last instant showing a matching wall time <= start, all of whose passes lie before start's."""
    wall = prev_wall(s, start)
    while wall is not None:
        first, second = _passes(wall, tz)
        if first <= second:
            return second  # a repeated time shows last in its second pass
        wall = prev_wall(s, _wall(_transition(second, first, tz) - _SECOND, tz))  # skipped: before the jump
    return None


def _next_wild(s: Schedule, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """Wildcard hour: the first instant > after showing a matching wall time (both passes count)."""
    local, wall = after.astimezone(tz), _wall(after, tz)
    repeat = _repeated(wall, tz)
    if repeat is None:
        return _first_lived(s, wall + _SECOND, tz)
    start, end = repeat
    found = next_wall(s, wall + _SECOND)
    if found is not None and found < end:  # later in this pass
        return found.replace(tzinfo=tz, fold=local.fold).astimezone(UTC)
    found = next_wall(s, start)
    if local.fold == 0 and found is not None and found < end:  # the second pass
        return found.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return _first_lived(s, end, tz)


def _last_wild(s: Schedule, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """Wildcard hour: the last instant <= now showing a matching wall time."""
    local, wall = now.astimezone(tz), _wall(now, tz)
    repeat = _repeated(wall, tz)
    if repeat is None:
        return _last_lived(s, wall, tz)
    start, end = repeat
    found = prev_wall(s, wall)
    if found is not None and found >= start:  # earlier in this pass
        return found.replace(tzinfo=tz, fold=local.fold).astimezone(UTC)
    found = prev_wall(s, end - _SECOND)
    if local.fold == 1 and found is not None and found >= start:  # the first pass
        return found.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return _last_lived(s, start - _SECOND, tz)


def next_slot(s: Schedule, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """The first time (UTC) strictly after `after` at which the schedule fires (the controller's next tick)."""
    if s.wildcard_hour:
        return _next_wild(s, after, tz)
    wall = next_wall(s, _fixed_search_start(after, tz) + _SECOND)
    return instant(wall, tz) if wall is not None else None


def last_slot(s: Schedule, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """The most recent time (UTC) at or before `now` at which the schedule fired (the slot the controller runs)."""
    if s.wildcard_hour:
        return _last_wild(s, now, tz)
    wall = prev_wall(s, _fixed_search_start(now, tz))
    return instant(wall, tz) if wall is not None else None


def job_name(cronjob: str, s: Schedule, scheduled: dt.datetime) -> str:
    """`<cronjob>-<unix minutes>`, or unix seconds for 6 fields (DESIGN.md 4.4): one per distinct fire time."""
    stamp = int(scheduled.timestamp())
    return f"{cronjob}-{stamp if s.has_seconds else stamp // 60}"
