"""`miniorch schedule EXPR`: the next fire times of a cron expression, as the CronJob controller computes them.

Offline: the expression and zone are checked by `miniorch.reconcile.cron` (the messages `ctl apply`
gives), and the times come from `cron.next_slot`, the function the planner arms each tick with, so
the DST rule is the controller's. Returns an exit code; `cli/main.py` exits.
"""

from __future__ import annotations

import datetime as dt

import typer

from miniorch.reconcile import cron

USAGE = 2


def start_time(text: str | None, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """`--from` as an aware UTC time: ISO 8601; without an offset it is a wall time in `tz`; default `now`.

    A wall time shown twice (autumn) means its first occurrence; one a spring-forward skips, the jump.
    """
    if text is None:
        return now
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--from {text!r} is not an ISO 8601 time; use e.g. 2024-10-27T02:00 (in --tz) or 2024-10-27T00:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        return cron.instant(parsed, tz)
    return parsed.astimezone(dt.UTC)


def fire_times(s: cron.Schedule, tz: dt.tzinfo, start: dt.datetime, count: int) -> list[dt.datetime]:
    """The first `count` fire times at or after `start`, by repeated `cron.next_slot` (as the controller re-arms)."""
    out: list[dt.datetime] = []
    t = start - dt.timedelta(microseconds=1)  # a fire exactly at --from is listed
    while len(out) < count and (nxt := cron.next_slot(s, t, tz)) is not None:
        out.append(nxt)
        t = nxt
    return out


def render(times: list[dt.datetime], tz: dt.tzinfo, zone_name: str, seconds: bool) -> list[str]:
    """Two columns: UTC, and the zone's wall time with its offset and abbreviation."""
    spec = "seconds" if seconds else "minutes"
    rows = [(t.replace(tzinfo=None).isoformat(timespec=spec) + "Z", t.astimezone(tz)) for t in times]
    width = max((len(utc) for utc, _ in rows), default=3)
    lines = [f"{'UTC':<{width}}  {zone_name}"]
    lines += [f"{utc:<{width}}  {local.isoformat(timespec=spec)} {local.tzname()}" for utc, local in rows]
    return lines


def run(expr: str, zone_name: str | None, from_text: str | None, count: int, now: dt.datetime) -> int:
    """Print the next `count` fire times, or one error sentence on stderr (exit 2 for a bad argument)."""
    try:
        s = cron.parse(expr)
    except ValueError as exc:
        typer.echo(f"error: schedule {_quoted(expr)}: {exc}", err=True)
        return USAGE
    try:
        tz = cron.zone(zone_name)
    except ValueError as exc:
        typer.echo(f"error: --tz: {exc}; {cron.ZONE_HINT}", err=True)
        return USAGE
    try:
        start = start_time(from_text, tz, now)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        return USAGE
    times = fire_times(s, tz, start, count)
    for line in render(times, tz, zone_name or "UTC", s.has_seconds):
        typer.echo(line)
    if len(times) < count:
        typer.echo(f"(only {len(times)} fire times: the schedule matches no later date)", err=True)
    return 0


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
