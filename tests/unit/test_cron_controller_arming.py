"""The CronJob controller keeps one APScheduler job per CronJob: armed, re-armed on edits, removed."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable

import pytest
from support.daemon import cronjob_yaml

from miniorch import clock as clock_mod
from miniorch.config import PolicyConfig
from miniorch.controllers.cronjobs import CronJobController
from miniorch.controllers.objects import Applier
from miniorch.spec import loader
from miniorch.store.store import Store

UTC = dt.UTC


async def until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Up to `timeout` seconds of the real clock (400 polls of 10 ms ran out on a loaded CI host)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def running(
    store: Store, clock: clock_mod.Clock, body: Callable[[CronJobController, Applier], Awaitable[None]]
) -> None:
    """Run the controller's loop (with its scheduler) around `body`."""

    async def main() -> None:
        controller: CronJobController
        applier = Applier(store, PolicyConfig(), lambda: controller.wake(), clock.now)
        controller = CronJobController(store, applier, clock, lambda: None)
        task = asyncio.create_task(controller.run())
        try:
            await body(controller, applier)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def next_new_year(now: dt.datetime, zone: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime(now.astimezone(zone).year + 1, 1, 1, tzinfo=zone).astimezone(UTC)


def test_edits_suspend_resume_and_delete_rearm_or_remove_the_scheduler_job(store: Store) -> None:
    """Schedule and zone edits move the next fire, suspend removes the job, resume brings it back, delete removes it."""
    clock = clock_mod.SystemClock()

    async def body(controller: CronJobController, applier: Applier) -> None:
        applier.apply(loader.load_text(cronjob_yaml("0 0 1 1 *"), "cj.yaml"), "api")
        (cj,) = store.list_objects("CronJob")
        await until(lambda: controller.next_fire(cj.uid) is not None, "the first arming")
        assert controller.next_fire(cj.uid) == next_new_year(clock.now())
        applier.apply(loader.load_text(cronjob_yaml("0 0 1 1 *", "Asia/Tokyo"), "cj.yaml"), "api")
        tokyo = next_new_year(clock.now(), dt.timezone(dt.timedelta(hours=9)))
        await until(lambda: controller.next_fire(cj.uid) == tokyo, "the zone edit")
        applier.apply(loader.load_text(cronjob_yaml("0 0 1 1 *", "Asia/Tokyo", suspend=True), "cj.yaml"), "api")
        await until(lambda: controller.next_fire(cj.uid) is None, "suspend")
        applier.apply(loader.load_text(cronjob_yaml("0 0 1 1 *", "Asia/Tokyo"), "cj.yaml"), "api")
        await until(lambda: controller.next_fire(cj.uid) == tokyo, "resume")
        applier.apply(loader.load_text(cronjob_yaml("* * * * *", "Asia/Tokyo"), "cj.yaml"), "api")
        await until(lambda: (controller.next_fire(cj.uid) or tokyo) < tokyo, "the schedule edit")
        store.mark_deleting(cj.uid)
        controller.wake()
        await until(lambda: not store.list_objects("CronJob"), "the deletion")
        assert controller.next_fire(cj.uid) is None

    running(store, clock, body)


def test_an_overdue_slot_still_wakes_the_pass_once_and_the_job_moves_past_now(store: Store) -> None:
    """APScheduler neither drops a late fire (misfire) nor delivers one per missed slot (coalesce)."""
    clock = clock_mod.FakeClock(clock_mod.utcnow() - dt.timedelta(hours=2))  # the planner lives two hours ago
    fired: list[str] = []

    async def body(controller: CronJobController, applier: Applier) -> None:
        applier.apply(loader.load_text(cronjob_yaml("* * * * *"), "cj.yaml"), "api")
        (cj,) = store.list_objects("CronJob")
        await until(lambda: bool(fired), "the overdue fire")
        await asyncio.sleep(0.2)
        assert fired == [cj.uid]  # 120 slots behind the real clock: one wake-up
        later = controller.next_fire(cj.uid)
        assert later is not None and later > clock_mod.utcnow()

    original = CronJobController._fire

    async def counting(self: CronJobController, uid: str) -> None:
        fired.append(uid)
        await original(self, uid)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CronJobController, "_fire", counting)
        running(store, clock, body)
