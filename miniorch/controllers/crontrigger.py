"""An APScheduler trigger on the in-house cron maths: one scheduler job per CronJob fires at its slots.

A fire only wakes the CronJob pass; the store (`status.lastConsideredTime`, the Job names)
decides what runs, so the trigger never needs to report a slot that is already past.
"""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.base import BaseTrigger

from miniorch.reconcile import cron


class CronSlotTrigger(BaseTrigger):  # type: ignore[misc]  # apscheduler 3 ships no types
    """The slots of a parsed cron `schedule` in zone `tz`, with DESIGN section 13's DST rule.

    Not APScheduler 3.11's `CronTrigger`, which cannot stand in for `reconcile.cron`:
    `CronTrigger.from_crontab` numbers weekdays from Monday (cron's 0 is Sunday), it ANDs a
    restricted day-of-month with a restricted day-of-week (cron ORs them), it refuses `?`,
    the `@daily`-style macros and the seconds-first 6-field form, and it has no notion of
    the wildcard-hour / fixed-hour DST rule (a fixed 02:30 runs once in a repeated hour and
    right after a skipped one; `*/30 * * * *` runs in both passes of a repeated hour).

    `get_next_fire_time(previous, now)` is the first slot strictly after the later of the
    two (`now` alone on the first call): after a stalled loop or a clock jump the scheduler
    collects one overdue fire, never one per missed slot; the pass it wakes runs the most
    recent missed slot once (or none, past `startingDeadlineSeconds`), as Kubernetes does.
    """

    __slots__ = ("schedule", "tz")

    def __init__(self, schedule: cron.Schedule, tz: dt.tzinfo) -> None:
        self.schedule = schedule
        self.tz = tz

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        after = now if previous_fire_time is None else max(previous_fire_time, now)
        return cron.next_slot(self.schedule, after, self.tz)

    @property
    def key(self) -> tuple[str, str]:
        """What the fire times depend on: a CronJob whose key changed gets its scheduler job replaced."""
        return self.schedule.text, str(self.tz)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronSlotTrigger) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return f"cron[{self.schedule.text!r}, {self.tz}]"

    def __repr__(self) -> str:
        return f"<CronSlotTrigger (schedule={self.schedule.text!r}, tz={str(self.tz)!r})>"
