"""Cron across DST (DESIGN.md 13): the exact UTC run times around each 2024 transition in Berlin and New York.

Fixed-hour schedules run each wall-clock slot once (first pass of a repeated hour; right after
the jump for a skipped one); wildcard-hour schedules (`*`, `*/N`, @hourly) run whenever the local
clock shows a matching time, so they keep their elapsed step through both transitions.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from miniorch.reconcile import cron

UTC = dt.UTC
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"

# (zone, transition, window start and end in UTC): Berlin jumps at 01:00Z both ways (02:00 CET ->
# 03:00 CEST on 31 Mar; 03:00 CEST -> 02:00 CET on 27 Oct); New York at 07:00Z (02:00 EST -> 03:00
# EDT, 10 Mar) and 06:00Z (02:00 EDT -> 01:00 EST, 3 Nov). Each window runs from 1h50 before to 1h10 after.
WINDOWS = {
    "berlin-spring": (BERLIN, "2024-03-30T23:10", "2024-03-31T02:10"),
    "berlin-autumn": (BERLIN, "2024-10-26T23:10", "2024-10-27T02:10"),
    "new-york-spring": (NEW_YORK, "2024-03-10T05:10", "2024-03-10T08:10"),
    "new-york-autumn": (NEW_YORK, "2024-11-03T04:10", "2024-11-03T07:10"),
}

# window, expression, kind, expected runs (UTC HH:MM within the window, in order).
CASES = [
    # Berlin, spring forward: 02:00-02:59 local does not exist.
    ("berlin-spring", "*/30 * * * *", "wildcard", "23:30 00:00 00:30 01:00 01:30 02:00"),  # every 30 min, no double
    ("berlin-spring", "@hourly", "wildcard", "00:00 01:00 02:00"),
    ("berlin-spring", "0 */2 * * *", "wildcard", "02:00"),  # 02:00 never shows; 04:00 CEST does
    ("berlin-spring", "30 2 * * *", "fixed", "01:00"),  # the skipped 02:30 runs right after the jump
    ("berlin-spring", "0,30 2 * * *", "fixed", "01:00"),  # two skipped slots, one run
    ("berlin-spring", "*/30 2 * * *", "fixed", "01:00"),  # a fixed hour: Debian would run it never
    ("berlin-spring", "30 1 * * *", "fixed", "00:30"),
    ("berlin-spring", "0 3 * * *", "fixed", "01:00"),
    ("berlin-spring", "0 1-3 * * *", "fixed", "00:00 01:00"),  # 02:00 and 03:00 share the jump
    # Berlin, fall back: 02:00-02:59 local shows twice (CEST, then CET).
    ("berlin-autumn", "*/30 * * * *", "wildcard", "23:30 00:00 00:30 01:00 01:30 02:00"),  # was: no 01:00, 01:30
    ("berlin-autumn", "@hourly", "wildcard", "00:00 01:00 02:00"),
    ("berlin-autumn", "0 */2 * * *", "wildcard", "00:00 01:00"),  # 02:00 CEST and 02:00 CET
    ("berlin-autumn", "30 2 * * *", "fixed", "00:30"),  # the first 02:30 only
    ("berlin-autumn", "0,30 2 * * *", "fixed", "00:00 00:30"),
    ("berlin-autumn", "*/30 2 * * *", "fixed", "00:00 00:30"),  # a fixed hour: Debian would run it twice
    ("berlin-autumn", "30 1 * * *", "fixed", "23:30"),
    ("berlin-autumn", "0 3 * * *", "fixed", "02:00"),
    ("berlin-autumn", "0 1,2,3 * * *", "fixed", "00:00 02:00"),  # a list is a fixed hour
    # New York, spring forward: 02:00-02:59 local does not exist.
    ("new-york-spring", "*/30 * * * *", "wildcard", "05:30 06:00 06:30 07:00 07:30 08:00"),
    ("new-york-spring", "@hourly", "wildcard", "06:00 07:00 08:00"),
    ("new-york-spring", "0 */2 * * *", "wildcard", "08:00"),
    ("new-york-spring", "30 2 * * *", "fixed", "07:00"),
    ("new-york-spring", "0,30 2 * * *", "fixed", "07:00"),
    ("new-york-spring", "30 1 * * *", "fixed", "06:30"),
    ("new-york-spring", "0 3 * * *", "fixed", "07:00"),
    # New York, fall back: 01:00-01:59 local shows twice (EDT, then EST).
    ("new-york-autumn", "*/30 * * * *", "wildcard", "04:30 05:00 05:30 06:00 06:30 07:00"),  # was: no 06:00, 06:30
    ("new-york-autumn", "@hourly", "wildcard", "05:00 06:00 07:00"),
    ("new-york-autumn", "0 */2 * * *", "wildcard", "07:00"),  # 01:00 is odd: nothing repeats
    ("new-york-autumn", "30 1 * * *", "fixed", "05:30"),
    ("new-york-autumn", "0,30 1 * * *", "fixed", "05:00 05:30"),
    ("new-york-autumn", "*/30 1 * * *", "fixed", "05:00 05:30"),
    ("new-york-autumn", "0 1-3 * * *", "fixed", "05:00 07:00"),  # a range is a fixed hour
    ("new-york-autumn", "0 2 * * *", "fixed", "07:00"),
]


def at(text: str) -> dt.datetime:
    """An aware UTC time from `YYYY-MM-DDTHH:MM[:SS]`."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(s: cron.Schedule, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every fire time in [start, end], by repeated next_slot (as the controller re-arms)."""
    out: list[dt.datetime] = []
    t = start - dt.timedelta(microseconds=1)
    while (nxt := cron.next_slot(s, t, tz)) is not None and nxt <= end:
        out.append(nxt)
        t = nxt
    return out


def expected_times(start: dt.datetime, runs: str) -> list[dt.datetime]:
    """`HH:MM` values on the window's first day, rolling over midnight."""
    out: list[dt.datetime] = []
    day = start.date()
    for text in runs.split():
        t = dt.datetime.combine(day, dt.time.fromisoformat(text), UTC)
        if out and t < out[-1] or not out and t < start:
            t += dt.timedelta(days=1)
            day += dt.timedelta(days=1)
        out.append(t)
    return out


@pytest.mark.parametrize(("window", "expr", "kind", "runs"), CASES, ids=lambda v: str(v).replace(" ", "_"))
def test_runs_around_each_transition_are_exactly_these(window: str, expr: str, kind: str, runs: str) -> None:
    """The listed UTC times, no more, no less; last_slot agrees with next_slot at and between them."""
    zone, start_text, end_text = WINDOWS[window]
    tz, start, end = cron.zone(zone), at(start_text), at(end_text)
    s = cron.parse(expr)
    assert s.wildcard_hour is (kind == "wildcard")
    got = fires(s, tz, start, end)
    assert [f.strftime("%H:%M") for f in got] == runs.split()
    assert got == expected_times(start, runs)
    for previous, fire in zip([None, *got], got, strict=False):
        assert cron.last_slot(s, fire, tz) == fire
        before = cron.last_slot(s, fire - dt.timedelta(seconds=1), tz)
        if previous is not None:
            assert before == previous
    names = [cron.job_name("cj", s, f) for f in got]
    assert len(set(names)) == len(names)


def test_the_issue_case_berlin_every_30_minutes_runs_through_the_repeated_hour() -> None:
    """Issue 12: `*/30 * * * *` in Berlin runs at 01:00Z and 01:30Z on 2024-10-27 (02:00 and 02:30 CET)."""
    s, tz = cron.parse("*/30 * * * *"), cron.zone(BERLIN)
    got = fires(s, tz, at("2024-10-27T00:00"), at("2024-10-27T02:00"))
    assert got == [
        at("2024-10-27T00:00"),
        at("2024-10-27T00:30"),
        at("2024-10-27T01:00"),
        at("2024-10-27T01:30"),
        at("2024-10-27T02:00"),
    ]
    walls = [f.astimezone(tz).strftime("%H:%M%z") for f in got]
    assert walls == ["02:00+0200", "02:30+0200", "02:00+0100", "02:30+0100", "03:00+0100"]
    assert [b - a for a, b in zip(got, got[1:], strict=False)] == [dt.timedelta(minutes=30)] * 4


@pytest.mark.parametrize(
    ("zone", "now", "last", "nxt"),
    [
        (BERLIN, "2024-10-27T01:20", "2024-10-27T01:15", "2024-10-27T01:30"),  # 02:20 CET, second pass
        (BERLIN, "2024-10-27T00:50", "2024-10-27T00:45", "2024-10-27T01:00"),  # 02:50 CEST: next is 02:00 CET
        (NEW_YORK, "2024-11-03T06:20", "2024-11-03T06:15", "2024-11-03T06:30"),  # 01:20 EST, second pass
        (NEW_YORK, "2024-11-03T05:59:59", "2024-11-03T05:45", "2024-11-03T06:00"),
        (BERLIN, "2024-03-31T00:59:59", "2024-03-31T00:45", "2024-03-31T01:00"),  # 01:59:59 CET: next is 03:00
        (NEW_YORK, "2024-03-10T07:00", "2024-03-10T07:00", "2024-03-10T07:15"),
    ],
)
def test_every_15_minutes_asked_inside_a_transition(zone: str, now: str, last: str, nxt: str) -> None:
    """A wildcard-hour schedule asked at any instant: the slot just run and the next one, 15 elapsed minutes on."""
    s, tz = cron.parse("*/15 * * * *"), cron.zone(zone)
    assert cron.last_slot(s, at(now), tz) == at(last)
    assert cron.next_slot(s, at(now), tz) == at(nxt)


@pytest.mark.parametrize(
    ("expr", "now", "last", "nxt"),
    [
        ("30 2 * * *", "2024-10-27T01:45", "2024-10-27T00:30", "2024-10-28T01:30"),  # 02:45 CET: done in pass 1
        ("0,30 2 * * *", "2024-10-27T01:10", "2024-10-27T00:30", "2024-10-28T01:00"),
        ("30 2 * * *", "2024-03-31T01:05", "2024-03-31T01:00", "2024-04-01T00:30"),  # ran at the jump
    ],
)
def test_fixed_hour_asked_inside_a_transition_in_berlin(expr: str, now: str, last: str, nxt: str) -> None:
    """In the second pass every repeated slot already ran; after a jump the skipped slot counts as run."""
    s, tz = cron.parse(expr), cron.zone(BERLIN)
    assert cron.last_slot(s, at(now), tz) == at(last)
    assert cron.next_slot(s, at(now), tz) == at(nxt)


@pytest.mark.parametrize(
    ("expr", "wildcard"),
    [
        ("* * * * *", True),
        ("*/15 * * * *", True),
        ("0 */2 * * *", True),
        ("0 ? * * *", True),
        ("0 1,*/6 * * *", True),  # a list with a `*`-based part
        ("@hourly", True),
        ("*/20 * * * * *", True),  # 6 fields: the hour is the third
        ("0 30 * * * *", True),
        ("30 2 * * *", False),
        ("*/15 2 * * *", False),  # a wildcard minute does not make a wildcard hour here (Debian differs)
        ("0 1-3 * * *", False),
        ("0 1,2,3 * * *", False),
        ("0 0-23 * * *", False),  # every hour, but written as a range: a fixed hour
        ("0 0/2 * * *", False),  # "N/STEP" is a range from N
        ("@daily", False),
        ("@weekly", False),
        ("@monthly", False),
        ("@yearly", False),
        ("0 30 2 * * *", False),
    ],
)
def test_the_hour_field_decides_which_dst_rule_applies(expr: str, wildcard: bool) -> None:
    """Only a `*`/`?`-based hour field (or @hourly) follows the clock as lived."""
    assert cron.parse(expr).wildcard_hour is wildcard


def test_six_field_wildcard_schedule_runs_on_through_the_repeated_hour() -> None:
    """`*/20 * * * * *` at 02:59:50 CEST: the next run is 02:00:00 CET, ten seconds later, named in seconds."""
    s, tz = cron.parse("*/20 * * * * *"), cron.zone(BERLIN)
    before = at("2024-10-27T00:59:50")
    nxt = cron.next_slot(s, before, tz)
    assert nxt == at("2024-10-27T01:00:00")
    assert cron.job_name("cj", s, at("2024-10-27T00:00:00")) != cron.job_name("cj", s, at("2024-10-27T01:00:00"))
    assert cron.job_name("cj", s, nxt) == f"cj-{int(nxt.timestamp())}"


def test_six_field_fixed_hour_schedule_runs_a_skipped_second_at_the_jump() -> None:
    """`15 30 2 * * *` on the Berlin spring day (02:30:15 does not exist) runs at 03:00:00 CEST."""
    s, tz = cron.parse("15 30 2 * * *"), cron.zone(BERLIN)
    assert fires(s, tz, at("2024-03-30T12:00"), at("2024-04-01T12:00")) == [
        at("2024-03-31T01:00:00"),
        at("2024-04-01T00:30:15"),
    ]


def test_job_names_of_both_passes_differ() -> None:
    """The two 02:30s of the Berlin autumn night are different UTC minutes, so different Jobs."""
    s = cron.parse("30 * * * *")
    first, second = at("2024-10-27T00:30"), at("2024-10-27T01:30")
    assert cron.job_name("cj", s, first) == f"cj-{int(first.timestamp()) // 60}"
    assert cron.job_name("cj", s, first) != cron.job_name("cj", s, second)


@pytest.mark.parametrize(
    ("expr", "now", "last"),
    [
        ("*/1 * * * *", "2024-10-27T01:20:30", "2024-10-27T01:20"),  # in the second pass of the repeated hour
        ("* * 29 2 *", "2027-06-01T00:00", "2024-02-29T22:59"),  # wildcard hour, a date four years back
        ("30 2 29 2 *", "2027-06-01T00:00", "2024-02-29T01:30"),
    ],
)
def test_missed_slots_across_transitions_cost_constant_time(expr: str, now: str, last: str) -> None:
    """DESIGN.md 4.4: the most recent slot comes back at once however many slots and transitions lie between."""
    s, tz = cron.parse(expr), cron.zone(BERLIN)
    started = time.perf_counter()
    for _ in range(20):
        recent = cron.last_slot(s, at(now), tz)
        upcoming = cron.next_slot(s, at(now), tz)
    elapsed = (time.perf_counter() - started) / 20
    assert recent == at(last) and upcoming is not None and upcoming > at(now)
    assert elapsed < 0.05  # a minute-by-minute walk over years would take seconds
