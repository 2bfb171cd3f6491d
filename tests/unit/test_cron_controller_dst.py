"""The CronJob controller (store + planner, a fake clock) through a DST night: the Jobs it stores, by name and slot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from miniorch.clock import FakeClock
from miniorch.config import PolicyConfig
from miniorch.controllers.cronjobs import CronJobController
from miniorch.controllers.objects import Applier
from miniorch.reconcile.cronjob import SCHEDULED_ANNOTATION
from miniorch.spec import loader
from miniorch.store.store import Store

UTC = dt.UTC


def cronjob(schedule: str, zone: str) -> str:
    """A CronJob `cj` in `zone`."""
    return (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec:\n"
        f'  schedule: "{schedule}"\n  timeZone: {zone}\n  jobTemplate:\n    spec:\n      template:\n        spec:\n'
        "          restartPolicy: Never\n          containers: [{name: c, image: busybox}]\n"
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


def run_night(store: Store, manifest: str, start: dt.datetime, end: dt.datetime) -> list[tuple[str, str]]:
    """Apply the CronJob at `start`, pass every 5 minutes until `end`; the Jobs made: (name, scheduled annotation)."""
    clock = FakeClock(start)
    applier = Applier(store, PolicyConfig(), lambda: None, clock.now)
    applier.apply(loader.load_text(manifest, "cj.yaml"), "api")
    controller = CronJobController(store, applier, clock, lambda: None)
    while clock.now() <= end:
        controller.reconcile_once()
        clock.advance(300)
    jobs = sorted(store.objects_owned("CronJob"), key=lambda j: j.name)
    return [(j.name, j.manifest["metadata"]["annotations"][SCHEDULED_ANNOTATION]) for j in jobs]


def minutes(*stamps: str) -> list[str]:
    """Job names `cj-<unix minutes>` of the given UTC times."""
    return [f"cj-{int(dt.datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()) // 60}" for s in stamps]


def test_every_30_minutes_in_berlin_makes_a_job_in_both_passes_of_the_repeated_hour(store: Store) -> None:
    """27 Oct 2024: Jobs for 02:00 and 02:30 CEST and again CET, distinct names, annotated with each offset."""
    made = run_night(
        store,
        cronjob("*/30 * * * *", "Europe/Berlin"),
        dt.datetime(2024, 10, 26, 23, 50, tzinfo=UTC),
        dt.datetime(2024, 10, 27, 1, 50, tzinfo=UTC),
    )
    assert [name for name, _ in made] == minutes(
        "2024-10-27T00:00", "2024-10-27T00:30", "2024-10-27T01:00", "2024-10-27T01:30"
    )
    assert [stamp for _, stamp in made] == [
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:30:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T02:30:00+01:00",
    ]


def test_a_fixed_0230_in_berlin_runs_right_after_the_spring_jump(store: Store) -> None:
    """`30 2 * * *` on 31 Mar 2024 (02:30 does not exist): one Job, at 03:00 CEST."""
    spring = run_night(
        store,
        cronjob("30 2 * * *", "Europe/Berlin"),
        dt.datetime(2024, 3, 30, 23, 50, tzinfo=UTC),
        dt.datetime(2024, 3, 31, 3, 0, tzinfo=UTC),
    )
    assert spring == [(minutes("2024-03-31T01:00")[0], "2024-03-31T03:00:00+02:00")]


def test_a_fixed_0230_in_berlin_runs_in_the_first_pass_only(store: Store) -> None:
    """`30 2 * * *` on 27 Oct 2024 (02:30 shows twice): one Job, for 02:30 CEST."""
    autumn = run_night(
        store,
        cronjob("30 2 * * *", "Europe/Berlin"),
        dt.datetime(2024, 10, 26, 23, 50, tzinfo=UTC),
        dt.datetime(2024, 10, 27, 3, 0, tzinfo=UTC),
    )
    assert autumn == [(minutes("2024-10-27T00:30")[0], "2024-10-27T02:30:00+02:00")]
