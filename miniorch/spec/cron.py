"""Cron expressions: parsing and the wall-clock searches that check them (pure, stdlib only).

Spec validation (`spec.workloads`) parses schedules with this module; the slot maths in an IANA
zone (DST, job names) is `reconcile.cron`, which re-exports every name here.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import json
import re
import zoneinfo
from dataclasses import dataclass

UTC = dt.UTC
_SECOND = dt.timedelta(seconds=1)
_HORIZON_YEARS = 9  # Feb 29 (and the 2100 non-leap year) is the rarest satisfiable date
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {n.lower(): i for i, n in enumerate(calendar.month_abbr) if n}
_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_TZ_PREFIX = re.compile(r"^(CRON_TZ|TZ)=")
ZONE_HINT = 'use an IANA name such as "Etc/UTC" or "Europe/Berlin"'


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]
    name_range: str = ""  # how the names run, for messages


_SECONDS = _Field("second", 0, 59, {})
_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, _MONTHS, "JAN-DEC"),
    _Field("day-of-week", 0, 7, _DAYS, "SUN-SAT"),  # 7 is Sunday too, as in Vixie and Debian cron
)


@dataclass(frozen=True)
class Schedule:
    """A parsed cron expression; fields are sorted tuples of allowed values."""

    text: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 = Sunday
    day_star: bool  # day-of-month is * or ?: with both restricted, either day field matches
    weekday_star: bool
    has_seconds: bool
    wildcard_hour: bool = False  # hour field `*`, `?` or `*/N`: the DST rule follows the clock as lived

    def day_matches(self, day: dt.date) -> bool:
        dom = day.day in self.days
        dow = (day.weekday() + 1) % 7 in self.weekdays
        if self.day_star or self.weekday_star:
            return dom and dow
        return dom or dow

    def matches(self, wall: dt.datetime) -> bool:
        """True when the naive wall-clock time `wall` is one of the schedule's slots."""
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and self.day_matches(wall.date())
            and wall.microsecond == 0
        )


def _number(text: str, field: _Field) -> int:
    value = field.names.get(text.lower())
    if value is not None:
        return value
    if not text.isdigit():
        names = f" or a name ({field.name_range})" if field.names else ""
        raise ValueError(f"{json.dumps(text)} is not a number{names}")
    number = int(text)
    if number < field.low or number > field.high:
        raise ValueError(f"value {number} out of range {field.low}-{field.high}")
    return number


def _part(text: str, field: _Field) -> tuple[set[int], bool, int]:
    """One comma-separated part: `*`, `?`, `N`, `N-M`, each optionally `/STEP`; also whether its base is a star."""
    base, slash, step_text = text.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"step {json.dumps(step_text)} must be a positive number")
        step = int(step_text)
    if base in ("*", "?"):
        low, high = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _number(first, field), _number(last, field)
        if low > high:
            raise ValueError(f"range {json.dumps(base)} starts after it ends")
    elif base:
        low = _number(base, field)
        high = field.high if slash else low  # "N/STEP" means "N-max/STEP"
    else:
        raise ValueError("empty value")
    return set(range(low, high + 1, step)), base in ("*", "?"), step


def _field(text: str, field: _Field) -> tuple[tuple[int, ...], bool, bool]:
    """The field's values; whether it is a bare `*`/`?` (for the day fields); whether any part is `*`-based."""
    values: set[int] = set()
    bare = wild = False
    for part in text.split(","):
        try:
            found, starred, step = _part(part, field)
        except ValueError as exc:
            raise ValueError(f"{field.name} field {json.dumps(text)}: {exc}") from None
        values |= found
        bare = bare or (starred and step == 1)
        wild = wild or starred
    if field.name == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return tuple(sorted(values)), bare, wild


def parse(text: str) -> Schedule:
    """Parse a cron expression; raises ValueError naming the field at fault (shown by `ctl apply` and `schedule`)."""
    expr = " ".join(text.split())
    if _TZ_PREFIX.match(expr):
        raise ValueError("a CRON_TZ= or TZ= prefix is not supported: give the zone as spec.timeZone (or --tz)")
    if expr.startswith("@"):
        macro = MACROS.get(expr.lower())
        if macro is None:
            known = " ".join(MACROS)
            raise ValueError(f"unknown macro {json.dumps(expr)}; use one of {known} or a 5-field expression")
        fields = macro.split()
    else:
        fields = expr.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got {len(fields)}"
        )
    has_seconds = len(fields) == 6
    seconds = _field(fields.pop(0), _SECONDS)[0] if has_seconds else (0,)
    parsed = [_field(f, spec) for f, spec in zip(fields, _FIELDS, strict=True)]
    (minutes, _, _), (hours, _, wild_hour), (days, day_star, _), (months, _, _), (weekdays, weekday_star, _) = parsed
    schedule = Schedule(
        text, seconds, minutes, hours, days, months, weekdays, day_star, weekday_star, has_seconds, wild_hour
    )
    if next_wall(schedule, dt.datetime(2000, 1, 1)) is None:
        raise ValueError(
            f"day-of-month field {json.dumps(fields[2])}: never occurs in month field {json.dumps(fields[3])}"
        )
    return schedule


# -- wall-clock searches (naive datetimes, whole seconds) -----------------------
def _after(values: tuple[int, ...], current: int) -> int | None:
    i = bisect.bisect_right(values, current)
    return values[i] if i < len(values) else None


def _before(values: tuple[int, ...], current: int) -> int | None:
    i = bisect.bisect_left(values, current)
    return values[i - 1] if i > 0 else None


def next_wall(s: Schedule, start: dt.datetime) -> dt.datetime | None:
    """The first matching wall time >= start (start has whole seconds)."""
    t = start
    while t.year <= start.year + _HORIZON_YEARS:
        if t.month not in s.months:
            month = _after(s.months, t.month)
            t = dt.datetime(t.year, month, 1) if month else dt.datetime(t.year + 1, s.months[0], 1)
        elif not s.day_matches(t.date()):
            day = _after(s.days, t.day) if s.weekday_star else t.day + 1  # only day-of-month matters: jump
            if day is None or day > calendar.monthrange(t.year, t.month)[1]:
                t = _end_of_month(t.replace(day=1)) + _SECOND
            else:
                t = t.replace(day=day, hour=0, minute=0, second=0)
        elif t.hour not in s.hours:
            hour = _after(s.hours, t.hour)
            t = t.replace(hour=hour, minute=0, second=0) if hour is not None else _next_day(t)
        elif t.minute not in s.minutes:
            minute = _after(s.minutes, t.minute)
            t = t.replace(minute=minute, second=0) if minute is not None else _next_hour(t)
        elif t.second not in s.seconds:
            second = _after(s.seconds, t.second)
            t = t.replace(second=second) if second is not None else _next_minute(t)
        else:
            return t
    return None


def prev_wall(s: Schedule, start: dt.datetime) -> dt.datetime | None:
    """The last matching wall time <= start (start has whole seconds)."""
    t = start
    while t.year >= start.year - _HORIZON_YEARS:
        if t.month not in s.months:
            month = _before(s.months, t.month)
            first = dt.datetime(t.year, month, 1) if month else dt.datetime(t.year - 1, s.months[-1], 1)
            t = _end_of_month(first)
        elif not s.day_matches(t.date()):
            day = _before(s.days, t.day) if s.weekday_star else None
            t = t.replace(day=day, hour=23, minute=59, second=59) if day else _day_start(t) - _SECOND
        elif t.hour not in s.hours:
            hour = _before(s.hours, t.hour)
            t = t.replace(hour=hour, minute=59, second=59) if hour is not None else _day_start(t) - _SECOND
        elif t.minute not in s.minutes:
            minute = _before(s.minutes, t.minute)
            t = t.replace(minute=minute, second=59) if minute is not None else t.replace(minute=0, second=0) - _SECOND
        elif t.second not in s.seconds:
            second = _before(s.seconds, t.second)
            t = t.replace(second=second) if second is not None else t.replace(second=0) - _SECOND
        else:
            return t
    return None


def _next_day(t: dt.datetime) -> dt.datetime:
    return _day_start(t) + dt.timedelta(days=1)


def _next_hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0) + dt.timedelta(hours=1)


def _next_minute(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0) + dt.timedelta(minutes=1)


def _day_start(t: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(t.date(), dt.time())


def _end_of_month(first: dt.datetime) -> dt.datetime:
    last = calendar.monthrange(first.year, first.month)[1]
    return first.replace(day=last, hour=23, minute=59, second=59)


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone of spec.timeZone (UTC when unset); ValueError naming an unknown zone (see ZONE_HINT)."""
    if name is None:
        return zoneinfo.ZoneInfo("Etc/UTC")
    try:
        if name in ("", "Local"):  # Kubernetes refuses the host's zone too
            raise ValueError(name)
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name}") from exc
