"""Failure notifications without Docker: config errors, filters, facts, bodies, backoff, the queue in a real Store."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from miniorch import config as config_mod
from miniorch.alerts import collector, facts, formats, retry
from miniorch.alerts.receivers import FactType, Format, Receiver, display_url
from miniorch.store import notifications as nq
from miniorch.store.records import EventRecord, ObjectRecord, PodPhase, PodRecord
from miniorch.store.store import Store

T0 = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)


def _config(tmp_path: Path, notify: str) -> config_mod.Config:
    path = tmp_path / "c.yaml"
    path.write_text(f"notify:\n{notify}")
    return config_mod.load(path)


@pytest.mark.parametrize(
    ("notify", "problem"),
    [
        ("  - {name: ops, url: 'ftp://x/y'}\n", "notify[0].url: receiver 'ops': the url must be http(s)://host/path"),
        ("  - {name: ops, url: 'https://h/x', events: [JobFailed, Oops]}\n", "receiver 'ops': unknown event 'Oops'"),
        ("  - {name: a, url: 'https://h/1'}\n  - {name: a, url: 'https://h/2'}\n", "receiver name 'a' appears twice"),
        ("  - {name: ops, url: 'https://h/x', format: teams}\n", "notify[0].format"),
        ("  - {name: ops, url: 'https://h/x', colour: red}\n", "notify[0].colour: unknown key"),
        ("  - {name: ops, url: 'https://h/x', headers: {Host: evil}}\n", "header 'Host' is set by miniorch"),
    ],
)
def test_a_bad_receiver_is_refused_naming_the_receiver_and_key(tmp_path: Path, notify: str, problem: str) -> None:
    with pytest.raises(config_mod.ConfigError) as err:
        _config(tmp_path, notify)
    assert problem in str(err.value)


def test_a_receiver_defaults_to_every_event_every_namespace_and_json(tmp_path: Path) -> None:
    (r,) = _config(tmp_path, "  - {name: ops, url: 'https://hooks.example/T0/B0/tok'}\n").notify
    assert r.format is Format.JSON and set(r.events) == set(FactType) and r.namespaces == ()
    assert r.where == "https://hooks.example"  # what logs show: no path, no token


@pytest.mark.parametrize(
    ("events", "namespaces", "fact", "namespace", "wanted"),
    [
        ((FactType.JOB_FAILED,), (), FactType.JOB_FAILED, "etl", True),
        ((FactType.JOB_FAILED,), (), FactType.NODE_NOT_READY, "", False),
        (tuple(FactType), ("etl",), FactType.JOB_FAILED, "etl", True),
        (tuple(FactType), ("etl",), FactType.JOB_FAILED, "web", False),
        (tuple(FactType), ("etl",), FactType.NODE_NOT_READY, "", True),  # nodes have no namespace
    ],
)
def test_receiver_filters(
    events: tuple[FactType, ...], namespaces: tuple[str, ...], fact: FactType, namespace: str, wanted: bool
) -> None:
    r = Receiver(name="r", url="http://h/x", events=events, namespaces=namespaces)
    assert r.wants(fact, namespace) is wanted


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/XXXX", "https://hooks.slack.com"),
        ("http://user:pw@10.0.0.1:8080/x?token=1", "http://10.0.0.1:8080"),
    ],
)
def test_a_receiver_url_is_shown_without_path_query_or_credentials(url: str, shown: str) -> None:
    assert display_url(url) == shown


def _event(kind: str, reason: str, type_: str = "Warning", message: str = "m", **kw: Any) -> facts.EventView:
    return facts.EventView(
        kw.get("id", 1), "default", kind, kw.get("name", "x"), "uid-1", type_, reason, message, kw.get("count", 1), T0
    )


@pytest.mark.parametrize(
    ("kind", "reason", "type_", "fact"),
    [
        ("Job", "BackoffLimitExceeded", "Warning", FactType.JOB_FAILED),
        ("Job", "DeadlineExceeded", "Warning", FactType.JOB_FAILED),
        ("Job", "PodFailurePolicy", "Warning", FactType.JOB_FAILED),
        ("Job", "Completed", "Normal", None),
        ("Job", "FailedScheduling", "Warning", None),
        ("CronJob", "MissSchedule", "Warning", FactType.CRONJOB_MISSED),
        ("CronJob", "FailedCreate", "Warning", FactType.CRONJOB_MISSED),
        ("CronJob", "JobAlreadyActive", "Normal", None),
        ("DaemonSet", "FailedDaemonPod", "Warning", FactType.DAEMONSET_POD_CRASHLOOPING),
        ("StatefulSet", "FailedStatefulSetPod", "Warning", FactType.STATEFULSET_POD_CRASHLOOPING),
        ("Node", "NodeNotReady", "Warning", FactType.NODE_NOT_READY),
        ("Node", "NodeReady", "Normal", None),
    ],
)
def test_which_events_are_facts(kind: str, reason: str, type_: str, fact: FactType | None) -> None:
    assert facts.classify(_event(kind, reason, type_)) is fact


def test_each_count_of_an_aggregated_event_is_its_own_occurrence() -> None:
    """A node NotReady again with the same words bumps the event's count: a new fact."""
    assert facts.key_of(_event("Node", "NodeNotReady", count=1)) != facts.key_of(
        _event("Node", "NodeNotReady", count=2)
    )


def test_the_failing_pod_is_the_one_the_message_names_else_the_last_to_fail() -> None:
    old = facts.PodView("ds-aaaaa", "n1", True, T0, "")
    new = facts.PodView("ds-bbbbb", "n2", True, T0 + dt.timedelta(minutes=1), "")
    fine = facts.PodView("ds-ccccc", "n3", False, T0 + dt.timedelta(minutes=2), "")
    assert facts.failing_pod([old, new, fine], "Found failed daemon pod ds-aaaaa on node n1") == old
    assert facts.failing_pod([old, new, fine], "Job has reached the specified backoff limit") == new
    assert facts.failing_pod([fine], "x") is None


def test_a_fact_carries_the_last_20_lines_and_the_pods_node() -> None:
    log = "".join(f"l{i}\n" for i in range(1, 31))
    pod = facts.PodView("job-x", "node1", True, T0, log)
    fact = facts.build(_event("Job", "BackoffLimitExceeded"), [pod], owner="nightly")
    assert fact is not None and fact.node == "node1" and fact.pod == "job-x" and fact.owner == "nightly"
    assert fact.log.split("\n") == [f"l{i}" for i in range(11, 31)]
    node = facts.build(_event("Node", "NodeNotReady", name="edge-1"), [])
    assert node is not None and node.node == "edge-1" and node.namespace == "" and node.log == ""


def _fact(**kw: Any) -> facts.Fact:
    base: dict[str, Any] = {
        "key": "event:1:1",
        "type": FactType.JOB_FAILED,
        "kind": "Job",
        "namespace": "etl",
        "name": "load<b>",
        "uid": "u1",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
        "node": "node1",
        "pod": "load-abcde",
        "log": "a\nb & <c>",
        "time": T0,
    }
    return facts.Fact(**{**base, **kw})


def test_the_json_body_is_the_fact_with_its_id() -> None:
    body = formats.body(Format.JSON, _fact(), "id-1")
    assert body == {
        "id": "id-1",
        "event": "JobFailed",
        "time": "2026-12-02T03:00:00.000Z",
        "object": {"apiVersion": "batch/v1", "kind": "Job", "namespace": "etl", "name": "load<b>", "uid": "u1"},
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
        "node": "node1",
        "pod": "load-abcde",
        "owner": None,
        "log": ["a", "b & <c>"],
    }


def test_the_slack_body_has_text_and_blocks_with_escaped_log() -> None:
    body = formats.body(Format.SLACK, _fact(), "id-1")
    assert body["text"].startswith("Job failed: job etl/load<b> on node node1: BackoffLimitExceeded")
    blocks = body["blocks"]
    assert blocks[0]["type"] == "header" and blocks[-1]["type"] == "context"
    log_block = next(b for b in blocks if "Last log lines" in b.get("text", {}).get("text", ""))
    assert "b &amp; &lt;c&gt;" in log_block["text"]["text"]
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)


def test_a_long_log_fits_in_a_slack_block() -> None:
    body = formats.as_slack(_fact(log="x" * 10000), "id")
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in body["blocks"])


@pytest.mark.parametrize(
    ("status", "attempts", "age_hours", "outcome", "wait"),
    [
        (200, 1, 0, retry.Delivered, None),
        (204, 5, 0, retry.Delivered, None),
        (503, 1, 0, retry.Retry, 2),
        (503, 3, 0, retry.Retry, 8),
        (None, 20, 1, retry.Retry, 600),  # capped
        (429, 1, 0, retry.Retry, 2),
        (404, 1, 0, retry.GiveUp, None),  # refused: retrying cannot help
        (500, 100, 24, retry.GiveUp, None),  # 24 h of retries
        (500, 100, 23.9, retry.Retry, 600),
    ],
)
def test_backoff_and_giving_up(
    status: int | None, attempts: int, age_hours: float, outcome: type[Any], wait: float | None
) -> None:
    now = T0 + dt.timedelta(hours=age_hours)
    result = retry.decide(status, "no route", attempts, T0, now)
    assert isinstance(result, outcome)
    if isinstance(result, retry.Retry):
        assert (result.at - now).total_seconds() == wait


def _store_with_failed_job(store: Store, log_tail: str = "2026-12-02T03:00:00.1Z boom\n") -> ObjectRecord:
    job = ObjectRecord(uid="job-1", kind="Job", namespace="default", name="etl", manifest={}, status={}, created_at=T0)
    store.add_object(job)
    pod = PodRecord(
        uid="pod-1",
        name="etl-abcde",
        namespace="default",
        owner_kind="Job",
        owner_name="etl",
        owner_uid="job-1",
        node="node1",
        phase=PodPhase.FAILED,
        exit_code=3,
        created_at=T0,
        finished_at=T0,
        log_tail=log_tail,
        log_timestamped=True,
    )
    store.save_pod(pod)
    return job


def test_a_fact_is_queued_once_per_receiver_and_survives_a_new_store(store: Store, tmp_path: Path) -> None:
    """The collector's cursor, facts and deliveries are in the database: a restart neither loses nor repeats."""
    now = [T0]
    receivers = [
        Receiver(name="a", url="http://h/a"),
        Receiver(name="b", url="http://h/b", events=(FactType.NODE_NOT_READY,)),
    ]
    c = collector.Collector(store, lambda: receivers, lambda: now[0])
    assert c.collect() == 0  # first run: the cursor starts now
    job = _store_with_failed_job(store)
    now[0] = T0 + dt.timedelta(seconds=1)
    store.record_object_event(job, "Warning", "BackoffLimitExceeded", "Job has reached the backoff limit", now[0])
    assert c.collect() == 1 and c.collect() == 0
    again = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        assert collector.Collector(again, lambda: receivers, lambda: now[0]).collect() == 0
        ((delivery, fact),) = again.notifications.due(now[0], 10)
    finally:
        again.close()
    assert delivery.receiver == "a" and delivery.state == nq.PENDING and fact.pod == "etl-abcde"
    assert fact.log == "boom" and fact.node == "node1"
    assert delivery.id == collector.delivery_id(fact.id, "a")


def test_a_fact_waits_for_the_failing_pods_log_to_be_kept_and_then_carries_it(store: Store) -> None:
    """A finished pod is recorded a few ms before its log is kept: the fact waits for the log, up to LOG_WAIT."""
    now = [T0]
    c = collector.Collector(store, lambda: [Receiver(name="a", url="http://h/a")], lambda: now[0])
    c.collect()
    job = _store_with_failed_job(store, log_tail="")
    (pod,) = store.pods_of(job.uid)
    now[0] = T0 + dt.timedelta(seconds=1)
    store.record_object_event(job, "Warning", "BackoffLimitExceeded", "Job has reached the backoff limit", now[0])
    assert c.collect() == 0  # recorded, log not kept yet
    store.save_pod(dataclasses.replace(pod, log_tail="2026-12-02T03:00:00.1Z boom\n"))  # the log is kept
    now[0] += dt.timedelta(milliseconds=50)
    assert c.collect() == 1
    ((_, fact),) = store.notifications.due(now[0], 10)
    assert fact.log == "boom"


def test_a_fact_goes_without_the_log_once_log_wait_has_passed(store: Store) -> None:
    now = [T0]
    c = collector.Collector(store, lambda: [Receiver(name="a", url="http://h/a")], lambda: now[0])
    c.collect()
    job = _store_with_failed_job(store, log_tail="")
    now[0] = T0 + dt.timedelta(seconds=1)
    store.record_object_event(job, "Warning", "BackoffLimitExceeded", "Job has reached the backoff limit", now[0])
    assert c.collect() == 0
    now[0] = T0 + collector.LOG_WAIT
    assert c.collect() == 1
    ((_, fact),) = store.notifications.due(now[0], 10)
    assert fact.log == "" and fact.pod == "etl-abcde"


def _node_not_ready(last_seen: dt.datetime) -> EventRecord:
    """Node edge's NodeNotReady event, first seen at T0 and last at `last_seen`."""
    return EventRecord(
        "default",
        "Node",
        "edge",
        "node:edge",
        "Warning",
        "NodeNotReady",
        "down",
        first_timestamp=T0,
        last_timestamp=last_seen,
    )


def test_a_pass_reads_nothing_while_nothing_was_written_and_everything_once_something_was(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle daemon's notifier costs one version read a tick; a write, or an event left waiting
    for its pod's log, makes the next tick read again."""
    now = [T0]
    c = collector.Collector(store, lambda: [Receiver(name="a", url="http://h/a")], lambda: now[0])
    reads: list[dt.datetime] = []
    events_since = store.notifications.events_since

    def counted(*args: Any) -> Any:
        reads.append(now[0])
        return events_since(*args)

    monkeypatch.setattr(store.notifications, "events_since", counted)

    def tick() -> int:
        return 0 if c.unchanged() else c.collect(c.restarting())

    assert tick() == 0 and c.unchanged()  # the first run sets the cursor; nothing since
    job = _store_with_failed_job(store, log_tail="")
    (pod,) = store.pods_of(job.uid)
    now[0] = T0 + dt.timedelta(seconds=1)
    store.record_object_event(job, "Warning", "BackoffLimitExceeded", "Job has reached the backoff limit", now[0])
    assert tick() == 0 and len(reads) == 1  # read; its pod's log is not kept yet
    now[0] += dt.timedelta(milliseconds=50)
    assert tick() == 0 and len(reads) == 2  # waiting: read again with no write
    store.save_pod(dataclasses.replace(pod, log_tail="2026-12-02T03:00:00.1Z boom\n"))
    assert tick() == 1 and len(reads) == 3
    for _ in range(3):
        assert tick() == 0
    assert len(reads) == 3, "nothing written since: no pass"
    store.record_event(_node_not_ready(now[0]))
    assert tick() == 1 and len(reads) == 4


def test_a_bumped_event_is_a_new_fact(store: Store) -> None:
    now = [T0]
    c = collector.Collector(store, lambda: [Receiver(name="a", url="http://h/a")], lambda: now[0])
    c.collect()
    for second in (1, 2):
        now[0] = T0 + dt.timedelta(seconds=second)
        store.record_event(_node_not_ready(now[0]))
        assert c.collect() == 1
    assert len(store.notifications.listing()) == 2


def test_the_notifier_posts_each_due_delivery_once_and_retries_a_refusal(store: Store) -> None:
    """Through httpx's mock transport: a 2xx is recorded delivered and never POSTed again; a 503 is retried later."""
    import httpx

    from miniorch.alerts import delivery

    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(200 if request.url.host == "good" else 503)

    now = [T0]
    receivers = [Receiver(name="good", url="http://good/x"), Receiver(name="bad", url="http://bad/x")]
    notifier = delivery.Notifier(store, receivers, lambda: now[0], transport=httpx.MockTransport(answer))

    async def ticks() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            await notifier.tick(client)
            job = _store_with_failed_job(store)
            store.record_object_event(job, "Warning", "BackoffLimitExceeded", "limit", T0)
            for _ in range(3):
                await notifier.tick(client)
                await asyncio.sleep(0.05)

    asyncio.run(ticks())
    assert sorted(seen) == ["bad", "good"]  # the 503 waits 2 s before its next try
    listed = store.notifications.listing((nq.PENDING, nq.DELIVERED))
    states = {d.receiver: (d.state, d.attempts, d.last_error) for d, _ in listed}
    assert states["good"][:2] == ("delivered", 1)
    assert states["bad"] == ("pending", 1, "HTTP 503: Service Unavailable")


def _restarting(owner_kind: str, restarts: int) -> facts.RestartingPod:
    return facts.RestartingPod("p1", "agent-abcde", "default", owner_kind, "agent", "ds-1", "node1", restarts, 2, T0)


@pytest.mark.parametrize(
    ("owner_kind", "restarts", "fact"),
    [
        ("DaemonSet", 2, None),
        ("DaemonSet", 3, FactType.DAEMONSET_POD_CRASHLOOPING),
        ("StatefulSet", 7, FactType.STATEFULSET_POD_CRASHLOOPING),
        ("Job", 9, None),  # OnFailure restarts end in JobFailed instead
    ],
)
def test_a_pod_restarted_in_place_three_times_is_crash_looping(owner_kind: str, restarts: int, fact: Any) -> None:
    built = facts.crashloop(_restarting(owner_kind, restarts), "x\ny\n")
    assert (built.type if built else None) is fact
    if built is not None:
        assert built.reason == "CrashLoopBackOff" and built.name == "agent" and built.pod == "agent-abcde"
        assert built.key == "pod:p1:crashloop" and built.log == "x\ny" and "last exit code 2" in built.message


def test_a_backlog_of_a_hanging_receiver_never_hides_the_others_deliveries(store: Store) -> None:
    """40 facts, one receiver that never answers: it holds 4 POSTs at most, the other gets all 40 at once."""
    import httpx

    from miniorch.alerts import delivery

    answered: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "stuck":
            await asyncio.sleep(60)
        answered.append(request.url.host)
        return httpx.Response(200)

    now = [T0]
    receivers = [Receiver(name="a-stuck", url="http://stuck/x"), Receiver(name="b-fine", url="http://fine/x")]
    notifier = delivery.Notifier(store, receivers, lambda: now[0])

    async def ticks() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            await notifier.tick(client)
            for i in range(40):
                ev = EventRecord(
                    "default",
                    "Node",
                    f"n{i}",
                    f"node:n{i}",
                    "Warning",
                    "NodeNotReady",
                    "down",
                    first_timestamp=T0,
                    last_timestamp=T0 + dt.timedelta(milliseconds=i),
                )
                store.record_event(ev)
            for _ in range(20):
                await notifier.tick(client)
                await asyncio.sleep(0.02)
            in_flight = sum(1 for r, _ in notifier._tasks.values() if r == "a-stuck")
            await notifier._cancel()
            return in_flight

    assert asyncio.run(ticks()) == delivery.PER_RECEIVER
    assert answered.count("fine") == 40


def test_ctl_get_notifications_prints_receiver_fact_attempts_next_try_and_error() -> None:
    from miniorch.cli import notifications

    item = {
        "receiver": "pager",
        "state": "pending",
        "attempts": 4,
        "nextAttempt": "2026-12-02T03:00:16Z",
        "lastError": "HTTP 503: Service Unavailable",
        "queued": "2026-12-02T02:59:29Z",
        "fact": {"event": "JobFailed", "kind": "Job", "namespace": "etl", "name": "load"},
    }
    lines = notifications.render([item], None, T0).splitlines()
    assert lines[0].split() == [
        "RECEIVER",
        "EVENT",
        "OBJECT",
        "STATE",
        "ATTEMPTS",
        "NEXT",
        "ATTEMPT",
        "AGE",
        "LAST",
        "ERROR",
    ]
    assert lines[1].split()[:8] == ["pager", "JobFailed", "job/etl/load", "pending", "4", "in", "16s", "31s"]
    assert lines[1].endswith("HTTP 503: Service Unavailable")
    assert '"receiver": "pager"' in notifications.render([item], "json", T0)
