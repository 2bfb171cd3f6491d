"""The CronJob controller (store + planner, a fake clock) through a DST night: the Jobs it stores, by name and slot."""

from __future__ import annotations

import datetime as dt

import pytest
from support.daemon import cronjob_yaml

from miniorch.clock import FakeClock
from miniorch.config import PolicyConfig
from miniorch.controllers.cronjobs import CronJobController
from miniorch.controllers.objects import Applier
from miniorch.reconcile.cronjob import SCHEDULED_ANNOTATION
from miniorch.spec import loader
from miniorch.store.store import Store

UTC = dt.UTC


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
        cronjob_yaml("*/30 * * * *", "Europe/Berlin"),
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


@pytest.mark.parametrize(
    ("start", "end", "slot", "stamp"),
    [
        ("2024-03-30T23:50", "2024-03-31T03:00", "2024-03-31T01:00", "2024-03-31T03:00:00+02:00"),  # 02:30 skipped
        ("2024-10-26T23:50", "2024-10-27T03:00", "2024-10-27T00:30", "2024-10-27T02:30:00+02:00"),  # shown twice
    ],
    ids=["spring", "autumn"],
)
def test_a_fixed_0230_in_berlin_runs_once_each_transition_night(
    store: Store, start: str, end: str, slot: str, stamp: str
) -> None:
    """`30 2 * * *`: one Job at the spring jump (03:00 CEST); in autumn one, for the first 02:30 (CEST)."""
    made = run_night(
        store,
        cronjob_yaml("30 2 * * *", "Europe/Berlin"),
        dt.datetime.fromisoformat(start).replace(tzinfo=UTC),
        dt.datetime.fromisoformat(end).replace(tzinfo=UTC),
    )
    assert made == [(minutes(slot)[0], stamp)]
