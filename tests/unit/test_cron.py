"""Cron schedule maths: parsing, next and most recent slot, time zones and DST, with explicit times."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from miniorch.reconcile import cron

UTC = dt.UTC
BERLIN = cron.zone("Europe/Berlin")
NEW_YORK = cron.zone("America/New_York")


def utc(*args: int) -> dt.datetime:
    """An aware UTC datetime."""
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc, arg-type]


def local(tz: dt.tzinfo, *args: int, fold: int = 0) -> dt.datetime:
    """A wall-clock time in `tz`, as UTC."""
    return dt.datetime(*args, tzinfo=tz, fold=fold).astimezone(UTC)  # type: ignore[misc, arg-type]


def slots(expr: str, start: dt.datetime, count: int, tz: dt.tzinfo = UTC) -> list[dt.datetime]:
    """The next `count` fire times after `start`."""
    s, out, t = cron.parse(expr), [], start
    for _ in range(count):
        nxt = cron.next_slot(s, t, tz)
        assert nxt is not None
        out.append(nxt)
        t = nxt
    return out


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("*/15 * * * *", utc(2024, 5, 1, 12, 7), utc(2024, 5, 1, 12, 15)),
        ("*/15 * * * *", utc(2024, 5, 1, 12, 15), utc(2024, 5, 1, 12, 30)),
        ("0 0 * * *", utc(2024, 12, 31, 23, 59, 59), utc(2025, 1, 1)),
        ("30 2 * * 1-5", utc(2024, 5, 3, 3), utc(2024, 5, 6, 2, 30)),  # Friday 03:00 -> Monday
        ("0 9 * JAN,jul MON", utc(2024, 2, 1), utc(2024, 7, 1, 9)),
        ("0 0 13 * FRI", utc(2024, 5, 1), utc(2024, 5, 3)),  # both day fields restricted: either matches
        ("0 0 */10 * *", utc(2024, 5, 1, 1), utc(2024, 5, 11)),
        ("0 0 29 2 *", utc(2024, 3, 1), utc(2028, 2, 29)),
        ("5/20 * * * *", utc(2024, 5, 1, 12, 30), utc(2024, 5, 1, 12, 45)),
        ("0 12 * * 7", utc(2024, 5, 1), utc(2024, 5, 5, 12)),  # 7 is Sunday
        ("0 12 ? * SUN", utc(2024, 5, 1), utc(2024, 5, 5, 12)),
        ("@hourly", utc(2024, 5, 1, 12, 0, 1), utc(2024, 5, 1, 13)),
        ("@daily", utc(2024, 5, 1, 12), utc(2024, 5, 2)),
        ("@midnight", utc(2024, 5, 1, 12), utc(2024, 5, 2)),
        ("@weekly", utc(2024, 5, 1), utc(2024, 5, 5)),
        ("@monthly", utc(2024, 5, 1), utc(2024, 6, 1)),
        ("@yearly", utc(2024, 5, 1), utc(2025, 1, 1)),
        ("@annually", utc(2024, 5, 1), utc(2025, 1, 1)),
        ("*/2 * * * * *", utc(2024, 5, 1, 12, 0, 1, 500), utc(2024, 5, 1, 12, 0, 2)),
        ("30 * * * * *", utc(2024, 5, 1, 12, 0, 30), utc(2024, 5, 1, 12, 1, 30)),
    ],
)
def test_next_slot_follows_cron_fields(expr: str, after: dt.datetime, expected: dt.datetime) -> None:
    """next_slot is the first matching time strictly after the given one."""
    assert cron.next_slot(cron.parse(expr), after, UTC) == expected


@pytest.mark.parametrize(
    ("expr", "now", "expected"),
    [
        ("*/15 * * * *", utc(2024, 5, 1, 12, 7), utc(2024, 5, 1, 12, 0)),
        ("*/15 * * * *", utc(2024, 5, 1, 12, 15), utc(2024, 5, 1, 12, 15)),  # a slot at now counts
        ("0 0 1 1 *", utc(2024, 5, 1), utc(2024, 1, 1)),
        ("0 0 29 2 *", utc(2027, 1, 1), utc(2024, 2, 29)),
        ("30 2 * * 1-5", utc(2024, 5, 6, 1), utc(2024, 5, 3, 2, 30)),  # Monday 01:00 -> Friday
        ("*/2 * * * * *", utc(2024, 5, 1, 12, 0, 3, 999), utc(2024, 5, 1, 12, 0, 2)),
    ],
)
def test_last_slot_is_the_most_recent_time_at_or_before_now(expr: str, now: dt.datetime, expected: dt.datetime) -> None:
    """last_slot finds the latest matching time <= now by walking calendar fields backwards."""
    assert cron.last_slot(cron.parse(expr), now, UTC) == expected


def test_141000_missed_minutes_are_skipped_in_constant_time() -> None:
    """98 days of missed `*/1` slots: the most recent one comes back at once, not after 141,000 steps."""
    s = cron.parse("*/1 * * * *")
    now = utc(2024, 5, 1, 12, 0, 30)
    start = time.perf_counter()
    for _ in range(100):
        recent = cron.last_slot(s, now, UTC)
    elapsed = (time.perf_counter() - start) / 100
    assert recent == utc(2024, 5, 1, 12, 0)
    assert elapsed < 0.005
    assert (now - dt.timedelta(days=98) - recent).days < 0


def test_rare_schedules_are_found_within_the_horizon_fast() -> None:
    """Feb 29 on a Monday (or either day field) is found without scanning minute by minute."""
    start = time.perf_counter()
    nxt = cron.next_slot(cron.parse("0 0 29 2 *"), utc(2097, 3, 1), UTC)
    assert nxt == utc(2104, 2, 29)  # 2100 is not a leap year
    assert time.perf_counter() - start < 0.05


@pytest.mark.parametrize(
    ("expr", "field"),
    [
        ("61 * * * *", "minute field: 61 is out of range 0-59"),
        ("* 24 * * *", "hour field: 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month field: 0 is out of range 1-31"),
        ("* * * 13 *", "month field: 13 is out of range 1-12"),
        ("* * * FOO *", "month field: 'FOO' is not a number or a name"),
        ("* * * * 8", "day-of-week field: 8 is out of range 0-7"),
        ("*/0 * * * *", "minute field: step '0' must be a positive number"),
        ("10-5 * * * *", "minute field: range '10-5' starts after it ends"),
        ("60 * * * * *", "second field: 60 is out of range 0-59"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * * *", "expected 5 fields"),
        ("@every 10s", "unknown macro"),
        ("0 0 30 2 *", "day-of-month field: '30' never occurs"),
        ("1,,2 * * * *", "minute field: empty value"),
    ],
)
def test_bad_expressions_name_the_field(expr: str, field: str) -> None:
    """Every parse error says which field is wrong and why."""
    with pytest.raises(ValueError, match="^" + field.replace("*", r"\*").replace("(", r"\(")):
        cron.parse(expr)


def test_job_names_use_minutes_or_seconds() -> None:
    """`<cronjob>-<unix time / 60>` for 5 fields, unix seconds for 6 fields (DESIGN.md 4.4)."""
    at = utc(2024, 5, 1, 12, 0, 0)
    assert cron.job_name("cj", cron.parse("* * * * *"), at) == f"cj-{int(at.timestamp()) // 60}"
    assert cron.job_name("cj", cron.parse("* * * * * *"), at) == f"cj-{int(at.timestamp())}"


def test_time_zone_shifts_the_slots() -> None:
    """`0 9 * * *` in Berlin runs at 07:00 UTC in summer and 08:00 UTC in winter."""
    s = cron.parse("0 9 * * *")
    assert cron.next_slot(s, utc(2024, 7, 1), BERLIN) == utc(2024, 7, 1, 7)
    assert cron.next_slot(s, utc(2024, 1, 10), BERLIN) == utc(2024, 1, 10, 8)
    assert cron.next_slot(s, utc(2024, 7, 1), NEW_YORK) == utc(2024, 7, 1, 13)


# -- DST -----------------------------------------------------------------------------
@pytest.mark.parametrize(("tz", "day"), [(BERLIN, (2024, 10, 27)), (NEW_YORK, (2024, 11, 3))])
def test_fall_back_runs_each_wall_clock_slot_once(tz: dt.tzinfo, day: tuple[int, int, int]) -> None:
    """Hourly at :30 across an autumn fall-back: the repeated hour runs once (its first pass), no slot twice."""
    start = local(tz, *day)
    fired = slots("30 * * * *", start, 6, tz)
    walls = [f.astimezone(tz).strftime("%H:%M") for f in fired]
    assert walls == ["00:30", "01:30", "02:30", "03:30", "04:30", "05:30"]
    assert len(set(walls)) == len(walls)
    repeated = 2 if tz is BERLIN else 1
    first_pass = local(tz, *day, repeated, 30, fold=0)
    assert first_pass in fired and local(tz, *day, repeated, 30, fold=1) not in fired


def test_fall_back_in_berlin_runs_the_daily_0230_job_once() -> None:
    """`30 2 * * *` on 27 Oct 2024 (02:00-03:00 happens twice in Berlin) runs once, at the first 02:30."""
    s = cron.parse("30 2 * * *")
    fired = slots("30 2 * * *", utc(2024, 10, 26, 12), 2, BERLIN)
    assert fired == [utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]
    # Asked during the second pass of the repeated hour, the slot is in the past, not due again.
    second_pass = local(BERLIN, 2024, 10, 27, 2, 45, fold=1)
    assert cron.last_slot(s, second_pass, BERLIN) == utc(2024, 10, 27, 0, 30)
    assert cron.next_slot(s, second_pass, BERLIN) == utc(2024, 10, 28, 1, 30)


def test_every_15_minutes_skips_the_second_pass_of_the_repeated_hour() -> None:
    """New York, 3 Nov 2024: 01:00-01:45 run in the first pass only; the next run is 02:00 EST."""
    fired = slots("*/15 * * * *", local(NEW_YORK, 2024, 11, 3, 0, 50), 6, NEW_YORK)
    assert fired == [
        local(NEW_YORK, 2024, 11, 3, 1, 0),
        local(NEW_YORK, 2024, 11, 3, 1, 15),
        local(NEW_YORK, 2024, 11, 3, 1, 30),
        local(NEW_YORK, 2024, 11, 3, 1, 45),
        local(NEW_YORK, 2024, 11, 3, 2, 0),
        local(NEW_YORK, 2024, 11, 3, 2, 15),
    ]
    assert fired[4] - fired[3] == dt.timedelta(hours=1, minutes=15)
    mid_second_pass = local(NEW_YORK, 2024, 11, 3, 1, 20, fold=1)
    assert cron.last_slot(cron.parse("*/15 * * * *"), mid_second_pass, NEW_YORK) == fired[3]
    assert cron.next_slot(cron.parse("*/15 * * * *"), mid_second_pass, NEW_YORK) == fired[4]


@pytest.mark.parametrize(
    ("tz", "day", "gap_hour", "jump_utc"),
    [(BERLIN, (2024, 3, 31), 2, utc(2024, 3, 31, 1)), (NEW_YORK, (2024, 3, 10), 2, utc(2024, 3, 10, 7))],
)
def test_spring_forward_runs_skipped_slots_right_after_the_jump(
    tz: dt.tzinfo, day: tuple[int, int, int], gap_hour: int, jump_utc: dt.datetime
) -> None:
    """`30 2 * * *` on a spring-forward day (02:30 does not exist) runs at the jump, then normally."""
    fired = slots(f"30 {gap_hour} * * *", utc(*day), 2, tz)
    assert fired[0] == jump_utc
    assert fired[0].astimezone(tz).hour == gap_hour + 1 and fired[0].astimezone(tz).minute == 0
    assert fired[1].astimezone(tz).replace(tzinfo=None) == dt.datetime(*day, gap_hour, 30) + dt.timedelta(days=1)
    s = cron.parse(f"30 {gap_hour} * * *")
    assert cron.last_slot(s, jump_utc + dt.timedelta(minutes=5), tz) == jump_utc
    assert cron.last_slot(s, jump_utc - dt.timedelta(seconds=1), tz) == jump_utc - dt.timedelta(days=1, minutes=-30)


def test_spring_forward_coalesces_skipped_slots_into_one_run() -> None:
    """Berlin, 31 Mar 2024, every 15 minutes: 02:00-03:00 collapse into one run at the jump (one Job name)."""
    fired = slots("*/15 * * * *", local(BERLIN, 2024, 3, 31, 1, 40), 4, BERLIN)
    walls = [f.astimezone(BERLIN).strftime("%H:%M") for f in fired]
    assert walls == ["01:45", "03:00", "03:15", "03:30"]
    assert fired[1] == utc(2024, 3, 31, 1)


def test_six_field_schedules_cross_dst_too() -> None:
    """Seconds schedules keep one run per wall-clock second across the Berlin fall-back."""
    s = cron.parse("*/20 * * * * *")
    before = local(BERLIN, 2024, 10, 27, 2, 59, 50, fold=0)
    nxt = cron.next_slot(s, before, BERLIN)
    assert nxt == local(BERLIN, 2024, 10, 27, 3, 0, 0)  # not 02:00:00 again
    assert nxt is not None and nxt - before == dt.timedelta(hours=1, seconds=10)


def test_instant_of_a_normal_wall_time_is_its_utc_time() -> None:
    """Outside transitions the wall clock maps one to one."""
    assert cron.instant(dt.datetime(2024, 7, 1, 9), BERLIN) == utc(2024, 7, 1, 7)


def test_apply_rejects_a_bad_schedule_at_its_line() -> None:
    """`miniorch validate` / `ctl apply` name the file, line, spec.schedule and the cron field."""
    from miniorch.spec import loader
    from miniorch.spec.errors import ManifestInvalid

    text = (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: bad}\nspec:\n"
        '  schedule: "*/5 25 * * *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n'
        "          restartPolicy: Never\n          containers: [{name: c, image: busybox}]\n"
    )
    with pytest.raises(ManifestInvalid) as info:
        loader.load_text(text, "cj.yaml")
    message = str(info.value.errors[0])
    assert message.startswith("cj.yaml:5:") and "spec.schedule" in message and "hour field: 25" in message


@pytest.mark.parametrize(
    "expr",
    ["0 0 1,15 * *", "*/7 3-5 * * *", "0 12 * * 1,3", "30 6 13 * FRI", "0 0 31 * *", "15 */6 1-3 * 0", "5 4 * 2 *"],
)
def test_calendar_jumps_agree_with_a_minute_by_minute_scan(expr: str) -> None:
    """next_slot and last_slot match a brute-force scan of every minute over 100 days (UTC)."""
    s = cron.parse(expr)
    start = utc(2023, 11, 25)
    minutes = [start + dt.timedelta(minutes=i) for i in range(100 * 24 * 60)]
    matching = [m for m in minutes if s.matches(m.replace(tzinfo=None))]
    for probe in (utc(2024, 1, 25, 7, 3), utc(2024, 2, 10), utc(2024, 2, 20, 23, 59), utc(2024, 1, 31, 12)):
        expected_next = next((m for m in matching if m > probe), None)
        expected_last = max((m for m in matching if m <= probe), default=None)
        if expected_next is not None:  # else it lies beyond the scanned window
            assert cron.next_slot(s, probe, UTC) == expected_next
        if expected_last is not None:
            assert cron.last_slot(s, probe, UTC) == expected_last
