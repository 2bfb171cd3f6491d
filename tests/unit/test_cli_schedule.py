"""`miniorch schedule EXPR [--tz] [--from] [-n]`: next fire times as the controller computes them, and its errors."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from miniorch.cli import main
from miniorch.cli import schedule as schedule_mod
from miniorch.reconcile import cron
from miniorch.spec import loader
from miniorch.spec.errors import ManifestInvalid

runner = CliRunner()


def schedule(*args: str) -> tuple[int, list[str], str]:
    """Run the command in-process: exit code, stdout lines, stderr."""
    result = runner.invoke(main.app, ["schedule", *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_berlin_autumn_night_lists_both_passes_of_the_repeated_hour() -> None:
    """`*/30 * * * *` from 02:00 Berlin on 27 Oct 2024 (the first 02:00): 02:00 and 02:30 twice, CEST then CET."""
    code, out, _ = schedule("*/30 * * * *", "--tz", "Europe/Berlin", "--from", "2024-10-27T02:00", "-n", "6")
    assert code == 0
    assert out == [
        "UTC                Europe/Berlin",
        "2024-10-27T00:00Z  2024-10-27T02:00+02:00 CEST",
        "2024-10-27T00:30Z  2024-10-27T02:30+02:00 CEST",
        "2024-10-27T01:00Z  2024-10-27T02:00+01:00 CET",
        "2024-10-27T01:30Z  2024-10-27T02:30+01:00 CET",
        "2024-10-27T02:00Z  2024-10-27T03:00+01:00 CET",
        "2024-10-27T02:30Z  2024-10-27T03:30+01:00 CET",
    ]


def test_new_york_spring_runs_the_skipped_0230_at_the_jump() -> None:
    """`30 2 * * *` around 10 Mar 2024: 02:30 EST, then 03:00 EDT (the skipped slot), then 02:30 EDT."""
    code, out, _ = schedule("30 2 * * *", "--tz", "America/New_York", "--from", "2024-03-09", "-n", "3")
    assert code == 0
    assert out[1:] == [
        "2024-03-09T07:30Z  2024-03-09T02:30-05:00 EST",
        "2024-03-10T07:00Z  2024-03-10T03:00-04:00 EDT",
        "2024-03-11T06:30Z  2024-03-11T02:30-04:00 EDT",
    ]


def test_the_listing_is_the_controllers_next_slot_chain() -> None:
    """Each listed time is what the planner arms after the previous one (cron.next_slot), default 5 of them."""
    code, out, _ = schedule("0 */2 * * *", "--tz", "Europe/Berlin", "--from", "2024-10-26T23:30:00Z")
    assert code == 0 and len(out) == 6
    s, tz = cron.parse("0 */2 * * *"), cron.zone("Europe/Berlin")
    t = dt.datetime(2024, 10, 26, 23, 30, tzinfo=dt.UTC)
    for line in out[1:]:
        nxt = cron.next_slot(s, t, tz)
        assert nxt is not None and line.startswith(nxt.strftime("%Y-%m-%dT%H:%MZ"))
        t = nxt


def test_six_field_schedules_show_seconds_and_an_aware_from_is_taken_as_is() -> None:
    """With a seconds field both columns carry seconds; `--from ...Z` is UTC whatever --tz says."""
    code, out, _ = schedule("*/20 * * * * *", "--tz", "Europe/Berlin", "--from", "2024-10-27T00:59:40Z", "-n", "3")
    assert code == 0
    assert out == [
        "UTC                   Europe/Berlin",
        "2024-10-27T00:59:40Z  2024-10-27T02:59:40+02:00 CEST",
        "2024-10-27T01:00:00Z  2024-10-27T02:00:00+01:00 CET",
        "2024-10-27T01:00:20Z  2024-10-27T02:00:20+01:00 CET",
    ]


def test_without_from_the_list_starts_now_in_utc() -> None:
    """Default: from now, in UTC; `@hourly` gives the next 5 whole hours."""
    now = dt.datetime(2024, 5, 1, 12, 10, 5, tzinfo=dt.UTC)
    times = schedule_mod.fire_times(
        cron.parse("@hourly"), cron.zone(None), schedule_mod.start_time(None, dt.UTC, now), 5
    )
    assert times == [dt.datetime(2024, 5, 1, 13 + i, tzinfo=dt.UTC) for i in range(5)]
    code, out, _ = schedule("@hourly")
    first = dt.datetime.fromisoformat(out[1].split()[0].replace("Z", "+00:00"))
    assert code == 0 and out[0].split() == ["UTC", "UTC"] and len(out) == 6
    assert dt.timedelta(0) < first - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["61 * * * *"], 'error: schedule "61 * * * *": minute field "61": value 61 out of range 0-59'),
        (["*/5 25 * * *"], 'error: schedule "*/5 25 * * *": hour field "25": value 25 out of range 0-23'),
        (["0 9 * * MON-FUN"], 'error: schedule "0 9 * * MON-FUN": day-of-week field "MON-FUN": "FUN" is not a number'),
        (["* * * *"], 'error: schedule "* * * *": expected 5 fields (minute hour day-of-month month day-of-week)'),
        (["@every 5m"], 'error: schedule "@every 5m": unknown macro "@every 5m"'),
        (["0 0 30 2 *"], 'error: schedule "0 0 30 2 *": day-of-month field "30": never occurs in month field "2"'),
        (
            ["CRON_TZ=UTC 0 * * * *"],
            'error: schedule "CRON_TZ=UTC 0 * * * *": a CRON_TZ= or TZ= prefix is not supported',
        ),
        (["@daily", "--tz", "Mars/Olympus"], "error: --tz: unknown time zone Mars/Olympus; use an IANA name"),
        (["@daily", "--tz", "Local"], "error: --tz: unknown time zone Local"),
        (["@daily", "--from", "yesterday"], "error: --from 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_a_bad_argument_exits_2_with_a_sentence_naming_it(args: list[str], message: str) -> None:
    """One line on stderr that says which field (or option) is wrong; nothing on stdout."""
    code, out, err = schedule(*args)
    assert code == 2 and out == []
    assert err.startswith(message) and len(err.splitlines()) == 1


def test_apply_and_schedule_give_the_same_reason_for_a_bad_field() -> None:
    """One source for both: the reason after `ctl apply`'s `Invalid value: "EXPR": ` is the command's."""
    text = (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: bad}\nspec:\n"
        '  schedule: "0 9 * 13 *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n'
        "          restartPolicy: Never\n          containers: [{name: c, image: busybox}]\n"
    )
    with pytest.raises(ManifestInvalid) as info:
        loader.load_text(text, "cj.yaml")
    applied = str(info.value.errors[0])
    _, _, err = schedule("0 9 * 13 *")
    reason = err.strip().removeprefix('error: schedule "0 9 * 13 *": ')
    assert reason == 'month field "13": value 13 out of range 1-12'
    assert f'Invalid value: "0 9 * 13 *": {reason}' in applied


def test_n_must_be_positive() -> None:
    """`-n 0` is a usage error (exit 2)."""
    assert schedule("@daily", "-n", "0")[0] == 2


def test_the_installed_command_exits_2_on_a_bad_expression() -> None:
    """Through `python -m miniorch.cli.main` (the console script's entry): exit 2, the sentence on stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "miniorch.cli.main", "schedule", "61 * * * *"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == 'error: schedule "61 * * * *": minute field "61": value 61 out of range 0-59\n'


@pytest.mark.parametrize(
    ("wall", "first"),
    [
        ("2024-03-31T02:30", "2024-03-31T01:00Z  2024-03-31T03:00+02:00 CEST"),  # skipped: from the jump
        ("2024-10-27T02:45", "2024-10-27T01:00Z  2024-10-27T02:00+01:00 CET"),  # shown twice: from the first
    ],
)
def test_a_naive_from_in_a_transition_starts_where_the_clock_first_shows_it(wall: str, first: str) -> None:
    """`--from` without an offset: a skipped wall time means the jump, a repeated one its first occurrence."""
    code, out, _ = schedule("*/30 * * * *", "--tz", "Europe/Berlin", "--from", wall, "-n", "1")
    assert code == 0 and out[1] == first
