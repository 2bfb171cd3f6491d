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
        ("61 * * * *", 'minute field "61": value 61 out of range 0-59'),
        ("* 24 * * *", 'hour field "24": value 24 out of range 0-23'),
        ("* * 0 * *", 'day-of-month field "0": value 0 out of range 1-31'),
        ("* * * 13 *", 'month field "13": value 13 out of range 1-12'),
        ("* * * FOO *", 'month field "FOO": "FOO" is not a number or a name (JAN-DEC)'),
        ("* * * * 8", 'day-of-week field "8": value 8 out of range 0-7'),
        ("* * * * MON-FUN", 'day-of-week field "MON-FUN": "FUN" is not a number or a name (SUN-SAT)'),
        ("*/0 * * * *", 'minute field "*/0": step "0" must be a positive number'),
        ("10-5 * * * *", 'minute field "10-5": range "10-5" starts after it ends'),
        ("0,15,99 * * * *", 'minute field "0,15,99": value 99 out of range 0-59'),
        ("60 * * * * *", 'second field "60": value 60 out of range 0-59'),
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got 4"),
        ("* * * * * * *", "expected 5 fields"),
        ("@every 10s", 'unknown macro "@every 10s"'),
        ("0 0 30 2 *", 'day-of-month field "30": never occurs in month field "2"'),
        ("1,,2 * * * *", 'minute field "1,,2": empty value'),
        ("CRON_TZ=Europe/Berlin 0 9 * * *", "a CRON_TZ= or TZ= prefix is not supported"),
    ],
)
def test_bad_expressions_name_the_field(expr: str, field: str) -> None:
    """Every parse error says which field is wrong and why."""
    with pytest.raises(ValueError) as info:
        cron.parse(expr)
    assert str(info.value).startswith(field)


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


# -- DST: see test_cron_dst.py and test_cron_dst_properties.py ------------------------
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
    assert (
        message.startswith("cj.yaml:5:")
        and "spec.schedule" in message
        and 'hour field "25": value 25 out of range 0-23' in message
    )


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
