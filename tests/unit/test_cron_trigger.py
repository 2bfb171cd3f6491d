"""The CronJob's APScheduler trigger: the in-house slots (DST rule included), one overdue fire after a stall."""

from __future__ import annotations

import datetime as dt

import pytest
from apscheduler.triggers.cron import CronTrigger

from miniorch.controllers.crontrigger import CronSlotTrigger
from miniorch.reconcile import cron

UTC = dt.UTC


def t(text: str) -> dt.datetime:
    """A UTC instant from `YYYY-MM-DDTHH:MM[:SS[.ffffff]]`."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def trigger(schedule: str, zone: str | None = None) -> CronSlotTrigger:
    return CronSlotTrigger(cron.parse(schedule), cron.zone(zone))


CASES = [
    # (schedule, zone, previous fire, now, next fire) -- all UTC
    ("*/5 * * * *", None, None, "2024-01-01T10:02", "2024-01-01T10:05"),
    ("*/5 * * * *", None, None, "2024-01-01T10:05", "2024-01-01T10:10"),  # strictly after now
    ("*/5 * * * *", None, "2024-01-01T10:05", "2024-01-01T10:05:00.002", "2024-01-01T10:10"),
    # a stalled loop (or a clock set forward): one overdue fire, then the slot after now, not every missed one
    ("*/5 * * * *", None, "2024-01-01T00:00", "2024-01-01T05:17:30", "2024-01-01T05:20"),
    # the clock was set back: never before the previous fire
    ("0 * * * *", None, "2024-01-01T10:00", "2024-01-01T09:00", "2024-01-01T11:00"),
    # Berlin, 27 Oct 2024: the wildcard hour runs 02:00 and 02:30 in both passes (CEST 00:00Z/00:30Z, CET 01:00Z/01:30Z)
    ("*/30 * * * *", "Europe/Berlin", None, "2024-10-27T00:10", "2024-10-27T00:30"),
    ("*/30 * * * *", "Europe/Berlin", "2024-10-27T00:30", "2024-10-27T00:30:00.001", "2024-10-27T01:00"),
    ("*/30 * * * *", "Europe/Berlin", "2024-10-27T01:00", "2024-10-27T01:00:00.001", "2024-10-27T01:30"),
    # a fixed 02:30 runs once, in the first pass; the next is the following night (CET)
    ("30 2 * * *", "Europe/Berlin", None, "2024-10-26T23:00", "2024-10-27T00:30"),
    ("30 2 * * *", "Europe/Berlin", "2024-10-27T00:30", "2024-10-27T00:30:01", "2024-10-28T01:30"),
    ("30 2 * * *", "Europe/Berlin", None, "2024-10-27T01:10", "2024-10-28T01:30"),  # in the second pass: done
    # Berlin, 31 Mar 2024: 02:30 does not exist; a fixed-hour slot runs at the jump (03:00 CEST = 01:00Z)
    ("30 2 * * *", "Europe/Berlin", None, "2024-03-31T00:00", "2024-03-31T01:00"),
    ("30 2 * * *", "Europe/Berlin", "2024-03-31T01:00", "2024-03-31T01:00:00.5", "2024-04-01T00:30"),
    # ...and a wildcard-hour one skips the lost hour: 01:30 CET, then 03:00 CEST
    ("0 * * * *", "Europe/Berlin", "2024-03-31T00:00", "2024-03-31T00:30", "2024-03-31T01:00"),
    # cron's numbering and rules, which CronTrigger.from_crontab does not share
    ("0 12 * * 0", None, None, "2024-01-01T00:00", "2024-01-07T12:00"),  # 0 is Sunday (1 Jan 2024 is a Monday)
    ("0 12 * * 7", None, None, "2024-01-01T00:00", "2024-01-07T12:00"),  # and so is 7
    ("0 0 13 * 5", None, None, "2024-09-01T00:00", "2024-09-06T00:00"),  # the 13th OR a Friday
    ("0 0 13 * 5", None, "2024-09-06T00:00", "2024-09-06T00:00", "2024-09-13T00:00"),
    ("0 0 ? * *", None, None, "2024-01-01T10:00", "2024-01-02T00:00"),
    ("@weekly", None, None, "2024-01-01T00:00", "2024-01-07T00:00"),
    ("@hourly", "Asia/Kolkata", None, "2024-01-01T00:00", "2024-01-01T00:30"),  # +05:30: on the local hour
    ("*/10 * * * * *", None, None, "2024-01-01T00:00:05", "2024-01-01T00:00:10"),  # seconds first
    ("0 0 29 2 *", None, None, "2025-03-01T00:00", "2028-02-29T00:00"),
]


@pytest.mark.parametrize(("schedule", "zone", "previous", "now", "expected"), CASES)
def test_the_next_fire_is_the_first_slot_after_the_previous_fire_and_now(
    schedule: str, zone: str | None, previous: str | None, now: str, expected: str
) -> None:
    """get_next_fire_time(previous, now) follows reconcile.cron, DST rule included, and never lies in the past."""
    fire = trigger(schedule, zone).get_next_fire_time(t(previous) if previous else None, t(now))
    assert fire == t(expected)
    assert fire is not None and fire.utcoffset() == dt.timedelta(0)


def test_chained_fires_run_every_local_slot_of_a_repeated_hour_once_per_pass() -> None:
    """As APScheduler chains them (previous = the last fire): `*/20 * * * *` through Berlin's autumn night."""
    trig = trigger("*/20 * * * *", "Europe/Berlin")
    fires = []
    fire = trig.get_next_fire_time(None, t("2024-10-26T23:30"))
    while fire is not None and fire < t("2024-10-27T02:00"):
        fires.append(fire.astimezone(trig.tz).isoformat(timespec="minutes"))
        fire = trig.get_next_fire_time(fire, fire)
    assert fires == [
        "2024-10-27T01:40+02:00",
        "2024-10-27T02:00+02:00",
        "2024-10-27T02:20+02:00",
        "2024-10-27T02:40+02:00",
        "2024-10-27T02:00+01:00",
        "2024-10-27T02:20+01:00",
        "2024-10-27T02:40+01:00",
    ]


def test_apscheduler_s_own_crontab_trigger_numbers_weekdays_from_monday() -> None:
    """Why our own trigger: `CronTrigger.from_crontab("0 12 * * 0")` fires on a Monday, cron on a Sunday."""
    monday = t("2024-01-01T00:00")
    theirs = CronTrigger.from_crontab("0 12 * * 0", timezone=UTC).get_next_fire_time(None, monday)
    ours = trigger("0 12 * * 0").get_next_fire_time(None, monday)
    assert ours is not None and ours.weekday() == 6
    assert theirs is not None and theirs.weekday() == 0


def test_triggers_are_equal_when_schedule_and_zone_are() -> None:
    """The controller replaces a CronJob's scheduler job only when what its fires depend on changed."""
    assert trigger("*/5 * * * *", "Europe/Berlin") == trigger("*/5 * * * *", "Europe/Berlin")
    assert trigger("*/5 * * * *", "Europe/Berlin") != trigger("*/5 * * * *", "Europe/Paris")
    assert trigger("*/5 * * * *") != trigger("*/6 * * * *")
