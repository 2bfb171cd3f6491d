"""Finished runs of a CronJob written through the Store, as the controllers leave them: for the
dashboard's page tests and its benchmark (`bench/ui_pages.py`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from miniorch.controllers import cronjobs
from miniorch.controllers.objects import Applier
from miniorch.store.records import ObjectRecord
from miniorch.store.store import Store


def _ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def finished_status(start: dt.datetime, seconds: float, ok: bool) -> dict[str, Any]:
    """A Job's stored status once it Completed (or Failed) after `seconds`."""
    end = start + dt.timedelta(seconds=seconds)
    kind, reason = ("Complete", "") if ok else ("Failed", "BackoffLimitExceeded")
    condition = {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": "" if ok else "Job has reached the specified backoff limit",
        "lastProbeTime": _ts(end),
        "lastTransitionTime": _ts(end),
    }
    status: dict[str, Any] = {"startTime": _ts(start), "conditions": [condition]}
    status.update({"succeeded": 1, "completionTime": _ts(end)} if ok else {"failed": 1})
    return status


def seed_runs(
    store: Store, applier: Applier, cronjob: ObjectRecord, count: int, start: dt.datetime, every: float = 60
) -> list[ObjectRecord]:
    """`count` Jobs of `cronjob`, one each `every` seconds from `start`, each 5 s + i % 7 s long;
    every fourth one Failed, the rest Complete."""
    jobs = []
    for i in range(count):
        at = start + dt.timedelta(seconds=i * every)
        job = cronjobs.create_job(store, applier, cronjob, f"{cronjob.name}-{i:05d}", {}, at)
        assert job is not None
        store.save_status(job.uid, finished_status(at, 5 + i % 7, ok=i % 4 != 3), finished=True)
        jobs.append(job)
    return jobs
