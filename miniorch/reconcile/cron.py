"""Cron schedules: parsing and slot maths in an IANA zone, with Debian cron's DST rule.

Pure: every function takes the times it needs. A slot is a matching wall-clock
time; it runs once, at the first instant it occurs (fall-back: the repeated hour
does not run twice), and a slot skipped by a spring-forward runs at the jump.
Searches walk calendar fields, so any gap between two times costs constant time.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
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


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_SECONDS = _Field("second", 0, 59, {})
_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 7, _DAYS),  # 7 is Sunday too, as in Vixie and Debian cron
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
        raise ValueError(f"{field.name} field: {text!r} is not a number" + (" or a name" if field.names else ""))
    number = int(text)
    if number < field.low or number > field.high:
        raise ValueError(f"{field.name} field: {number} is out of range {field.low}-{field.high}")
    return number


def _part(text: str, field: _Field) -> tuple[set[int], bool]:
    """One comma-separated part: `*`, `?`, `N`, `N-M`, each optionally `/STEP`; also whether it is a bare star."""
    base, slash, step_text = text.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"{field.name} field: step {step_text!r} must be a positive number")
        step = int(step_text)
    if base in ("*", "?"):
        low, high = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _number(first, field), _number(last, field)
        if low > high:
            raise ValueError(f"{field.name} field: range {base!r} starts after it ends")
    elif base:
        low = _number(base, field)
        high = field.high if slash else low  # "N/STEP" means "N-max/STEP"
    else:
        raise ValueError(f"{field.name} field: empty value in {text!r}")
    return set(range(low, high + 1, step)), base in ("*", "?") and step == 1


def _field(text: str, field: _Field) -> tuple[tuple[int, ...], bool]:
    values: set[int] = set()
    star = False
    for part in text.split(","):
        found, is_star = _part(part, field)
        values |= found
        star = star or is_star
    if field.name == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return tuple(sorted(values)), star


def parse(text: str) -> Schedule:
    """Parse a cron expression; raises ValueError naming the field at fault."""
    expr = " ".join(text.split())
    if expr.startswith("@"):
        macro = MACROS.get(expr.lower())
        if macro is None:
            known = " ".join(MACROS)
            raise ValueError(f"unknown macro {expr!r}; use one of {known} or a 5-field expression")
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
    (minutes, _), (hours, _), (days, day_star), (months, _), (weekdays, weekday_star) = parsed
    schedule = Schedule(text, seconds, minutes, hours, days, months, weekdays, day_star, weekday_star, has_seconds)
    if _next_wall(schedule, dt.datetime(2000, 1, 1)) is None:
        raise ValueError(f"day-of-month field: {fields[2]!r} never occurs in month {fields[3]!r}")
    return schedule


# -- wall-clock searches (naive datetimes, whole seconds) -----------------------
def _after(values: tuple[int, ...], current: int) -> int | None:
    i = bisect.bisect_right(values, current)
    return values[i] if i < len(values) else None


def _before(values: tuple[int, ...], current: int) -> int | None:
    i = bisect.bisect_left(values, current)
    return values[i - 1] if i > 0 else None


def _next_wall(s: Schedule, start: dt.datetime) -> dt.datetime | None:
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


def _prev_wall(s: Schedule, start: dt.datetime) -> dt.datetime | None:
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


# -- wall clock <-> instants --------------------------------------------------------
def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone of spec.timeZone (UTC when unset)."""
    return zoneinfo.ZoneInfo(name or "Etc/UTC")


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


def instant(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """When the wall-clock slot `wall` runs: its first occurrence, or the jump for a skipped time."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first <= second:
        return first  # normal, or repeated by a fall-back (first occurrence)
    return _transition(second, first, tz)  # skipped by a spring-forward: fold=1 gives the earlier instant


def _search_start(t: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The last wall time whose slot runs at or before `t` (whole seconds, naive)."""
    local = t.astimezone(tz)
    wall = local.replace(tzinfo=None, microsecond=0)
    if not local.fold:
        return wall
    # t lies in the repeated hour's second pass: every repeated wall time already ran, in the first pass.
    first_pass = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    jump = _transition(first_pass, t.replace(microsecond=0), tz)
    overlap = wall.replace(tzinfo=tz, fold=0).utcoffset() - wall.replace(tzinfo=tz, fold=1).utcoffset()  # type: ignore[operator]
    return jump.astimezone(tz).replace(tzinfo=None) + overlap - _SECOND


def next_slot(s: Schedule, after: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """The first time (UTC) strictly after `after` at which the schedule fires."""
    wall = _next_wall(s, _search_start(after, tz) + _SECOND)
    return instant(wall, tz) if wall is not None else None


def last_slot(s: Schedule, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime | None:
    """The most recent time (UTC) at or before `now` at which the schedule fired."""
    wall = _prev_wall(s, _search_start(now, tz))
    return instant(wall, tz) if wall is not None else None


def job_name(cronjob: str, s: Schedule, scheduled: dt.datetime) -> str:
    """`<cronjob>-<unix minutes>`, or unix seconds for a 6-field schedule (DESIGN.md 4.4)."""
    stamp = int(scheduled.timestamp())
    return f"{cronjob}-{stamp if s.has_seconds else stamp // 60}"
