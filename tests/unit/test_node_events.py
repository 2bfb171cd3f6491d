"""Docker events parsed once, the run ends they tell (ExitLog), and when a settle may skip its inspect."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from miniorch.controllers.pods import told_exit
from miniorch.nodes import events
from miniorch.nodes import records as nr
from miniorch.store.records import PodPhase, PodRecord

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
NANO = int(T0.timestamp() * 1e9)


def raw(action: str, name: str = "job-a-1", seconds: float = 0.0, **attrs: str) -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": action,
        "timeNano": NANO + int(seconds * 1e9),
        "Actor": {"ID": "c0ffee", "Attributes": {"name": name, nr.POD: name, **attrs}},
    }


def test_parse_takes_action_names_and_time_from_the_engine_event() -> None:
    event = events.parse(raw("health_status: healthy", seconds=1.5))
    assert (event.action, event.container, event.pod) == ("health_status", "job-a-1", "job-a-1")
    assert event.time == T0 + dt.timedelta(seconds=1.5)
    assert events.parse({"status": "die"}).time is None  # an old engine's event without timeNano


def run_end(*stream: dict[str, Any], opened_after: int | None = None) -> events.RunEnd | None:
    log = events.ExitLog()
    for i, ev in enumerate(stream):
        if i == opened_after:
            log.opened()
        log.note(events.parse(ev))
    return log.take("job-a-1")


@pytest.mark.parametrize(
    ("stream", "opened_after", "expected"),
    [
        ([raw("start"), raw("die", seconds=2, exitCode="3")], None, events.RunEnd(3, T0, T0 + dt.timedelta(seconds=2))),
        (
            [raw("start"), raw("kill", signal="15"), raw("die", seconds=1, exitCode="143")],
            None,
            events.RunEnd(143, T0, T0 + dt.timedelta(seconds=1), killed=True),
        ),
        (
            [raw("start"), raw("oom"), raw("die", seconds=1, exitCode="137")],
            None,
            events.RunEnd(137, T0, T0 + dt.timedelta(seconds=1), oom=True),
        ),
        ([raw("die", exitCode="0")], None, None),  # its start was not seen on this stream
        ([raw("start"), raw("die", seconds=1, exitCode="0")], 1, None),  # the stream was reopened mid-run
        ([raw("start"), raw("die", seconds=1)], None, None),  # no exit code in the event
        ([raw("start"), raw("die", exitCode="0", name="other")], None, None),  # another container's end
        ([raw("start"), raw("die", exitCode="1"), raw("start", seconds=2)], None, None),  # started again since
    ],
)
def test_exit_log_tells_a_run_end_only_for_a_run_it_saw_whole(
    stream: list[dict[str, Any]], opened_after: int | None, expected: events.RunEnd | None
) -> None:
    assert run_end(*stream, opened_after=opened_after) == expected


def test_a_run_end_is_taken_once_and_the_log_is_bounded() -> None:
    log = events.ExitLog(limit=2)
    for name in ("a", "b", "c"):
        log.note(events.parse(raw("start", name)))
        log.note(events.parse(raw("die", name, 1, exitCode="0")))
    assert log.take("a") is None  # the oldest end nobody took was dropped
    assert log.take("c") is not None and log.take("c") is None


def pod(**fields: Any) -> PodRecord:
    base: dict[str, Any] = {
        "uid": "u1",
        "name": "job-a-1",
        "namespace": "default",
        "owner_kind": "Job",
        "owner_name": "a",
        "owner_uid": "j1",
        "node": "node0",
        "phase": PodPhase.RUNNING,
        "started_at": T0,
        "created_at": T0,
    }
    return PodRecord(**{**base, **fields})


END = events.RunEnd(2, T0, T0 + dt.timedelta(seconds=1))


@pytest.mark.parametrize(
    ("record", "policy", "end", "uses_event"),
    [
        (pod(), "Never", END, True),
        (pod(), "Never", None, False),  # nothing told: inspect
        (pod(), "Never", events.RunEnd(137, T0, T0, oom=True), False),  # OOMKilled is in the inspect
        (pod(), "Never", events.RunEnd(137, T0, T0), False),  # SIGKILLed: its `oom` may come after the `die`
        (pod(), "Never", events.RunEnd(143, T0, T0, killed=True), False),  # someone else's kill (engine shutdown)
        (pod(deletion_reason="Evicted"), "Never", events.RunEnd(143, T0, T0, killed=True), True),  # our own stop
        (pod(), "OnFailure", END, False),  # may restart: its run history takes Docker's StartedAt
        (pod(restart_pending=True), "Never", END, False),
        (pod(restart_count=1), "Never", END, False),
    ],
)
def test_a_settle_skips_the_inspect_only_when_the_die_event_tells_all(
    record: PodRecord, policy: str, end: events.RunEnd | None, uses_event: bool
) -> None:
    state = told_exit(record, policy, end, "node0")
    assert (state is not None) == uses_event
    if state is not None and end is not None:
        assert (state.exited, state.exit_code, state.started_at, state.finished_at) == (
            True,
            end.exit_code,
            end.started_at,
            end.finished_at,
        )
