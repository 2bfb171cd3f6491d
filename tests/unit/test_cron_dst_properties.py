"""Cron across DST, as properties: next_slot and last_slot against a second-by-second model of the clock as lived.

The model (DESIGN.md 13): a wildcard-hour schedule fires at each instant whose local wall time
matches; a fixed-hour one fires at the first instant the local clock reaches a matching wall time.
"""

from __future__ import annotations

import datetime as dt
import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from miniorch.reconcile import cron

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
# Berlin and New York (1 h shifts), Lord Howe (30 min), Santiago and Havana (transitions at midnight).
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "America/Havana")
MINUTE_FIELDS = ["*", "*/15", "*/7", "0", "30", "0,30", "5-20/5", "59", "*/20"]
HOUR_FIELDS = ["*", "*/2", "*/3", "?", "0", "1", "2", "3", "23", "1-3", "0,2", "1,2,3", "0-23", "2/2"]


@functools.cache
def transitions(zone: str, year: int) -> tuple[dt.datetime, ...]:
    """The instants in `year` at which the zone's UTC offset changes (to the minute)."""
    tz = cron.zone(zone)
    out, t = [], dt.datetime(year, 1, 1, tzinfo=UTC)
    while t.year == year:
        nxt = t + dt.timedelta(hours=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            lo = t
            while lo.astimezone(tz).utcoffset() == t.astimezone(tz).utcoffset():
                lo += MINUTE
            out.append(lo)
        t = nxt
    return tuple(out)


def wall(t: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The naive local reading of `t`."""
    return t.astimezone(tz).replace(tzinfo=None)


def model(s: cron.Schedule, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Fire times in (start, end] by watching the clock minute by minute (5-field schedules)."""
    out: list[dt.datetime] = []
    highest = wall(start, tz)  # fixed hour: the latest wall time the clock has reached
    t = start + MINUTE
    while t <= end:
        shown = wall(t, tz)
        if s.wildcard_hour:
            if s.matches(shown):
                out.append(t)
        elif shown > highest:
            reached = [highest + MINUTE * i for i in range(1, (shown - highest) // MINUTE + 1)]
            if any(s.matches(w) for w in reached):
                out.append(t)
            highest = shown
        t += MINUTE
    return out


def fires(s: cron.Schedule, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Fire times in (start, end] by repeated next_slot."""
    out: list[dt.datetime] = []
    t = start
    while (nxt := cron.next_slot(s, t, tz)) is not None and nxt <= end:
        out.append(nxt)
        t = nxt
    return out


@st.composite
def around_a_transition(draw: st.DrawFn, zones: tuple[str, ...] = ZONES) -> tuple[str, dt.datetime, dt.datetime]:
    """A zone and a window of a few hours around one of its transitions (2020-2030)."""
    zone = draw(st.sampled_from(zones))
    year = draw(st.integers(2020, 2030))
    found = transitions(zone, year)
    jump = draw(st.sampled_from(found)) if found else dt.datetime(year, 6, 1, tzinfo=UTC)
    start = jump - dt.timedelta(minutes=draw(st.integers(60, 300)))
    return zone, start, jump + dt.timedelta(minutes=draw(st.integers(60, 300)))


@settings(max_examples=200, deadline=None)
@given(
    around_a_transition(),
    st.sampled_from(MINUTE_FIELDS),
    st.sampled_from(HOUR_FIELDS),
    st.sampled_from(["* * *", "* * 0", "1,15 * *"]),
)
def test_next_slot_matches_the_clock_as_lived(
    window: tuple[str, dt.datetime, dt.datetime], minute: str, hour: str, days: str
) -> None:
    """Every fire time the controller would arm is one the model fires at, and none is missing."""
    zone, start, end = window
    s, tz = cron.parse(f"{minute} {hour} {days}"), cron.zone(zone)
    expected = model(s, tz, start, end)
    assert fires(s, tz, start, end) == expected
    names = [cron.job_name("cj", s, f) for f in expected]
    assert len(set(names)) == len(names)


@settings(max_examples=300, deadline=None)
@given(
    around_a_transition(),
    st.sampled_from(MINUTE_FIELDS),
    st.sampled_from(HOUR_FIELDS),
    st.integers(0, 600 * 60),
)
def test_last_slot_is_the_latest_model_fire_at_or_before_now(
    window: tuple[str, dt.datetime, dt.datetime], minute: str, hour: str, seconds: int
) -> None:
    """The slot the controller runs at `now` (last_slot) is the model's most recent fire."""
    zone, start, end = window
    s, tz = cron.parse(f"{minute} {hour} * * *"), cron.zone(zone)
    now = min(start + dt.timedelta(seconds=seconds), end)
    earlier = model(s, tz, start, now)
    if earlier:
        assert cron.last_slot(s, now, tz) == earlier[-1]


@settings(max_examples=200, deadline=None)
@given(
    around_a_transition(("Europe/Berlin", "America/New_York")),
    st.sampled_from([1, 2, 5, 10, 15, 20, 30, 60]),
    st.booleans(),
)
def test_an_hour_wildcard_fires_its_elapsed_step_apart_in_berlin_and_new_york(
    window: tuple[str, dt.datetime, dt.datetime], step: int, macro: bool
) -> None:
    """`*/N * * * *` (N dividing 60; @hourly) is always exactly N elapsed minutes apart, across any transition."""
    zone, start, end = window
    tz = cron.zone(zone)
    s = cron.parse("@hourly" if macro else f"*/{step} * * * *")
    got = fires(s, tz, start, end)
    gap = dt.timedelta(minutes=60 if macro else step)
    assert got and all(b - a == gap for a, b in zip(got, got[1:], strict=False))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["Europe/Berlin", "America/New_York"]),
    st.integers(2020, 2030),
    st.booleans(),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 59]),
)
def test_a_fixed_hour_fires_once_per_local_date(zone: str, year: int, spring: bool, hour: int, minute: int) -> None:
    """`M H * * *` fires exactly once on each local date around a transition: at H:M, or right after the jump."""
    tz = cron.zone(zone)
    jump = transitions(zone, year)[0 if spring else 1]
    day = jump.astimezone(tz).date()
    start = dt.datetime.combine(day - dt.timedelta(days=2), dt.time(), tz).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=3), dt.time(), tz).astimezone(UTC)
    got = fires(
        cron.parse(f"{minute} {hour} * * *"), tz, start - dt.timedelta(seconds=1), end - dt.timedelta(seconds=1)
    )
    dates = [f.astimezone(tz).date() for f in got]
    assert dates == [day + dt.timedelta(days=d) for d in range(-2, 3)]
    for f in got:
        shown = wall(f, tz)
        assert (shown.hour, shown.minute) == (hour, minute) or f == jump


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["Europe/Berlin", "America/New_York"]),
    st.integers(2020, 2030),
    st.booleans(),
    st.sampled_from(
        ["*/20 * * * * *", "0 */30 * * * *", "15 30 * * * *", "*/20 30 2 * * *", "5 0 1 * * *", "*/20 * 1 * * *"]
    ),
)
def test_six_field_schedules_follow_the_same_rule_to_the_second(zone: str, year: int, spring: bool, expr: str) -> None:
    """Seconds schedules: wildcard hour matches every lived second; fixed hour each wall second once."""
    tz, s = cron.zone(zone), cron.parse(expr)
    jump = transitions(zone, year)[0 if spring else 1]
    start, end = jump - dt.timedelta(minutes=40), jump + dt.timedelta(minutes=40)
    expected, highest, t = [], wall(start, tz), start + dt.timedelta(seconds=1)
    while t <= end:
        shown = wall(t, tz)
        if s.wildcard_hour and s.matches(shown):
            expected.append(t)
        elif not s.wildcard_hour and shown > highest:
            span = int((shown - highest).total_seconds())
            if any(s.matches(highest + dt.timedelta(seconds=i)) for i in range(1, span + 1)):
                expected.append(t)
            highest = shown
        t += dt.timedelta(seconds=1)
    assert fires(s, tz, start, end) == expected
