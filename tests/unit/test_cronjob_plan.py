"""Pure CronJob planning: one Job per slot, catch-up, deadline, concurrency, suspend, history, with a fake clock."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

from miniorch.clock import FakeClock
from miniorch.reconcile import cron
from miniorch.reconcile import cronjob as plan
from miniorch.reconcile.cronjob import ChildJob, Concurrency, CreateJob, CronStatus, DeleteCronJob, DeleteJob

UTC = dt.UTC
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def params(schedule: str = "*/1 * * * *", **kw: object) -> plan.CronParams:
    """The `cj` CronJob, created at T0 - 30 s."""
    base = plan.CronParams(
        name="cj",
        generation=1,
        created_at=T0 - dt.timedelta(seconds=30),
        schedule=cron.parse(schedule),
        tz=UTC,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def child(name: str, scheduled: dt.datetime, **kw: object) -> ChildJob:
    """A Job the CronJob made for `scheduled`."""
    return ChildJob(name=name, uid=f"uid-{name}", created_at=scheduled, scheduled=scheduled, **kw)  # type: ignore[arg-type]


def run(p: plan.CronParams, status: CronStatus, children: list[ChildJob], now: dt.datetime) -> plan.CronPlan:
    """One planning pass."""
    return plan.plan_cronjob(p, status, children, now)


def creates(result: plan.CronPlan) -> list[CreateJob]:
    """The CreateJob actions of a plan."""
    return [a for a in result.actions if isinstance(a, CreateJob)]


def reasons(result: plan.CronPlan) -> list[str]:
    """The event reasons of a plan."""
    return [e.reason for e in result.events]


def test_a_new_cronjob_waits_for_its_first_slot() -> None:
    """Created at 11:59:30 with */1: nothing before 12:00, then exactly the 12:00 Job, named by minutes."""
    p = params()
    early = run(p, CronStatus(), [], T0 - dt.timedelta(seconds=1))
    assert not early.actions and early.next_fire == T0
    first = run(p, early.status, [], T0)
    assert creates(first) == [CreateJob(f"cj-{int(T0.timestamp()) // 60}", T0)]
    assert first.status.last_schedule == T0 and first.status.active == (creates(first)[0].name,)
    assert reasons(first) == ["SuccessfulCreate"]


def test_a_tick_that_fires_twice_makes_one_job() -> None:
    """Planning again for the same slot (repeated fire, or a crash before the status was saved) creates nothing."""
    p = params()
    first = run(p, CronStatus(), [], T0)
    job = child(creates(first)[0].name, T0)
    assert not creates(run(p, first.status, [job], T0 + dt.timedelta(milliseconds=5)))
    lost_status = run(p, CronStatus(), [job], T0 + dt.timedelta(seconds=1))  # status write lost in a crash
    assert not creates(lost_status) and lost_status.status.last_schedule == T0


def test_downtime_makes_one_catch_up_run_for_the_most_recent_slot_only() -> None:
    """98 days of missed */1 slots (~141,000): one Job, for the latest slot, planned in constant time."""
    p = params(created_at=T0 - dt.timedelta(days=99))
    status = CronStatus(last_schedule=T0 - dt.timedelta(days=98), last_considered=T0 - dt.timedelta(days=98))
    now = T0 + dt.timedelta(seconds=20)
    start = time.perf_counter()
    result = run(p, replace(status, observed_generation=1), [], now)
    assert time.perf_counter() - start < 0.05
    assert creates(result) == [CreateJob(cron.job_name("cj", p.schedule, T0), T0)]
    again = run(p, result.status, [child(creates(result)[0].name, T0)], now + dt.timedelta(seconds=1))
    assert not creates(again)


def test_starting_deadline_skips_a_slot_that_is_too_old() -> None:
    """startingDeadlineSeconds 10: a slot 20 s late is a MissSchedule warning, once, and no Job."""
    p = params(starting_deadline=10)
    status = CronStatus(last_considered=T0 - dt.timedelta(minutes=5), observed_generation=1)
    late = run(p, status, [], T0 + dt.timedelta(seconds=20))
    assert not creates(late) and reasons(late) == ["MissSchedule"]
    assert not run(p, late.status, [], T0 + dt.timedelta(seconds=25)).events
    in_time = run(p, status, [], T0 + dt.timedelta(seconds=9))
    assert len(creates(in_time)) == 1


def test_forbid_skips_the_slot_while_a_job_runs_and_does_not_run_it_later() -> None:
    """Forbid: JobAlreadyActive, and the skipped slot is not started when the running Job ends."""
    p = params(concurrency=Concurrency.FORBID)
    running = child("cj-old", T0 - dt.timedelta(minutes=1))
    status = CronStatus(last_considered=T0 - dt.timedelta(minutes=1), observed_generation=1, active=("cj-old",))
    skipped = run(p, status, [running], T0)
    assert not creates(skipped) and reasons(skipped) == ["JobAlreadyActive"]
    done = replace(running, outcome="Complete", completion_time=T0 + dt.timedelta(seconds=10))
    after = run(p, skipped.status, [done], T0 + dt.timedelta(seconds=11))
    assert not creates(after) and reasons(after) == ["SawCompletedJob"]
    assert after.status.active == () and after.status.last_successful == done.completion_time


def test_forbid_ignores_manual_jobs() -> None:
    """A Job made by `create job --from` is not subject to the concurrency policy."""
    p = params(concurrency=Concurrency.FORBID)
    manual = ChildJob("by-hand", "u", T0 - dt.timedelta(seconds=5), manual=True)
    result = run(p, CronStatus(observed_generation=1), [manual], T0)
    assert len(creates(result)) == 1 and set(result.status.active) == {"by-hand", creates(result)[0].name}


def test_allow_runs_next_to_a_running_job() -> None:
    """Allow: a new Job starts while the previous one still runs."""
    p = params()
    running = child("cj-old", T0 - dt.timedelta(minutes=1))
    result = run(p, CronStatus(last_considered=T0 - dt.timedelta(minutes=1), observed_generation=1), [running], T0)
    assert len(creates(result)) == 1 and len(result.status.active) == 2


def test_replace_deletes_the_running_job_first_then_creates() -> None:
    """Replace: delete the running Job, wait until it is gone (retry soon), then create the new one."""
    p = params(concurrency=Concurrency.REPLACE)
    running = child("cj-old", T0 - dt.timedelta(minutes=1))
    status = CronStatus(last_considered=T0 - dt.timedelta(minutes=1), observed_generation=1, active=("cj-old",))
    first = run(p, status, [running], T0)
    assert first.actions == (DeleteJob("cj-old", "uid-cj-old", "Replaced"),)
    assert first.retry_at is not None and reasons(first) == ["SuccessfulDelete"]
    stopping = run(p, first.status, [replace(running, deleting=True)], T0 + dt.timedelta(seconds=0.2))
    assert not stopping.actions and not stopping.events and stopping.retry_at is not None
    gone = run(p, stopping.status, [], T0 + dt.timedelta(seconds=1))
    assert [c.scheduled for c in creates(gone)] == [T0]


def test_suspend_makes_no_job_and_unsuspending_never_runs_an_old_slot() -> None:
    """Suspended across slots: none run; after unsuspend (a new generation) only future slots run."""
    p = params(suspend=True)
    status = CronStatus(last_considered=T0 - dt.timedelta(minutes=1), observed_generation=1)
    for minute in range(3):
        result = run(p, status, [], T0 + dt.timedelta(minutes=minute, seconds=1))
        assert not result.actions and result.next_fire is None
        status = result.status
    resumed = run(replace(p, suspend=False, generation=2), status, [], T0 + dt.timedelta(minutes=2, seconds=30))
    assert not resumed.actions and resumed.next_fire == T0 + dt.timedelta(minutes=3)


def test_changing_the_schedule_never_starts_a_run_for_an_old_slot() -> None:
    """hourly -> */5: after the edit at 12:07, nothing runs until 12:10, although 12:05 is newer than the last run."""
    clock = FakeClock(T0 + dt.timedelta(minutes=7))
    status = CronStatus(last_schedule=T0, last_considered=T0, observed_generation=1)
    edited = run(params("*/5 * * * *", generation=2), status, [], clock.now())
    assert not edited.actions and edited.next_fire == T0 + dt.timedelta(minutes=10)
    clock.advance(3 * 60)
    assert len(creates(run(params("*/5 * * * *", generation=2), edited.status, [], clock.now()))) == 1


def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    """successfulJobsHistoryLimit 1 and failedJobsHistoryLimit 0: older finished Jobs go; running ones stay."""
    p = params(successful_limit=1, failed_limit=0)
    jobs = [
        child("ok-1", T0 - dt.timedelta(minutes=3), outcome="Complete"),
        child("ok-2", T0 - dt.timedelta(minutes=2), outcome="Complete"),
        child("bad-1", T0 - dt.timedelta(minutes=1), outcome="Failed"),
        child("run-1", T0 - dt.timedelta(seconds=30)),
    ]
    result = run(p, CronStatus(last_considered=T0, observed_generation=1), jobs, T0 + dt.timedelta(seconds=1))
    deleted = {a.name for a in result.actions if isinstance(a, DeleteJob)}
    assert deleted == {"ok-1", "bad-1"}


def test_deleting_a_cronjob_deletes_its_jobs_then_itself() -> None:
    """Deletion cascades: Jobs first (retrying until gone), then the CronJob record."""
    p = params(deleting=True)
    jobs = [child("a", T0), child("b", T0, deleting=True)]
    first = run(p, CronStatus(), jobs, T0)
    assert first.actions == (DeleteJob("a", "uid-a", "CronJobDeleted"),) and first.retry_at is not None
    assert run(p, CronStatus(), [], T0).actions == (DeleteCronJob(),)


def test_a_job_missing_from_the_active_list_is_reported() -> None:
    """An active Job that vanished without us deleting it: MissingJob warning, and it leaves `active`."""
    result = run(params(), CronStatus(active=("gone",), last_considered=T0, observed_generation=1), [], T0)
    assert reasons(result) == ["MissingJob"] and result.status.active == ()


def test_status_round_trips_through_the_stored_dict() -> None:
    """The Kubernetes-shaped status dict keeps everything the planner needs."""
    status = CronStatus(("j1",), T0, T0 - dt.timedelta(minutes=1), T0 + dt.timedelta(milliseconds=250), 3)
    stored = plan.status_to_dict(status, "default", {"j1": "u1"})
    assert stored["active"][0]["uid"] == "u1" and stored["lastScheduleTime"] == "2024-05-01T12:00:00Z"
    assert plan.status_from_dict(stored) == status


def test_job_manifest_copies_the_template_and_annotates_the_slot() -> None:
    """The Job gets the template's labels and annotations plus the scheduled timestamp in the CronJob's zone."""
    cj = {
        "metadata": {"name": "cj", "namespace": "ns"},
        "spec": {"jobTemplate": {"metadata": {"labels": {"a": "b"}}, "spec": {"template": {}}}},
    }
    berlin = cron.zone("Europe/Berlin")
    job = plan.job_manifest(cj, "cj-1", plan.scheduled_annotation(T0, berlin))
    assert job["metadata"] == {
        "name": "cj-1",
        "namespace": "ns",
        "labels": {"a": "b"},
        "annotations": {plan.SCHEDULED_ANNOTATION: "2024-05-01T14:00:00+02:00"},
    }
    assert plan.scheduled_annotation(T0, UTC)[plan.SCHEDULED_ANNOTATION] == "2024-05-01T12:00:00Z"


def night(p: plan.CronParams, start: dt.datetime, end: dt.datetime) -> list[CreateJob]:
    """Run the planner as the controller does, at each next_fire it returns, from start to end; Jobs finish at once."""
    status, children, made = CronStatus(), list[ChildJob](), list[CreateJob]()
    now = start
    while now <= end:
        result = run(p, status, children, now)
        for job in creates(result):
            made.append(job)
            children.append(child(job.name, job.scheduled, outcome="Complete", completion_time=now))
        status = replace(result.status, active=())
        assert result.next_fire is not None and result.next_fire > now
        now = result.next_fire
    return made


def test_the_controller_runs_every_30_minutes_through_the_berlin_autumn_night() -> None:
    """`*/30 * * * *` in Berlin, 27 Oct 2024: Jobs for 00:00Z 00:30Z 01:00Z 01:30Z 02:00Z, each its own name."""
    start = dt.datetime(2024, 10, 26, 23, 50, tzinfo=UTC)
    p = params("*/30 * * * *", tz=cron.zone("Europe/Berlin"), created_at=start)
    made = night(p, start, dt.datetime(2024, 10, 27, 2, 0, tzinfo=UTC))
    expected = [dt.datetime(2024, 10, 27, h, m, tzinfo=UTC) for h, m in ((0, 0), (0, 30), (1, 0), (1, 30), (2, 0))]
    assert [j.scheduled for j in made] == expected
    assert [j.name for j in made] == [f"cj-{int(t.timestamp()) // 60}" for t in expected]


def test_the_controller_runs_a_skipped_fixed_slot_once_right_after_the_jump() -> None:
    """`0,30 2 * * *` in New York, 10 Mar 2024: both slots are skipped; one Job at 03:00 EDT (07:00Z), then 02:00 EDT."""
    start = dt.datetime(2024, 3, 10, 5, 0, tzinfo=UTC)
    p = params("0,30 2 * * *", tz=cron.zone("America/New_York"), created_at=start)
    made = night(p, start, dt.datetime(2024, 3, 11, 6, 0, tzinfo=UTC))
    assert [j.scheduled for j in made] == [
        dt.datetime(2024, 3, 10, 7, 0, tzinfo=UTC),
        dt.datetime(2024, 3, 11, 6, 0, tzinfo=UTC),
    ]


def test_downtime_across_the_repeated_hour_catches_up_its_second_pass() -> None:
    """Down from 01:30 CEST to 02:40 CET (Berlin autumn): one catch-up run, for 02:30 CET (01:30Z)."""
    tz = cron.zone("Europe/Berlin")
    p = params("*/30 * * * *", tz=tz, created_at=dt.datetime(2024, 10, 26, 23, 0, tzinfo=UTC))
    before = CronStatus(last_considered=dt.datetime(2024, 10, 26, 23, 30, tzinfo=UTC), observed_generation=1)
    result = run(p, before, [], dt.datetime(2024, 10, 27, 1, 40, tzinfo=UTC))
    slot = dt.datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    assert creates(result) == [CreateJob(f"cj-{int(slot.timestamp()) // 60}", slot)]
    assert result.next_fire == dt.datetime(2024, 10, 27, 2, 0, tzinfo=UTC)
