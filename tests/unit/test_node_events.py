"""Docker events parsed once, the run ends they tell (ExitLog), and when a settle may skip its inspect."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import urllib3.exceptions

from miniorch.controllers.podrecords import told_exit
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


def test_a_stream_that_resumes_after_going_quiet_misses_nothing() -> None:
    """`since` is the engine time just after the last event; a resumed stream keeps the runs in
    progress (a run started before the quiet end is still told by its `die`), a broken one not."""
    log = events.ExitLog()
    assert log.since() is None  # nothing seen: the stream starts now
    log.note(events.parse(raw("start", seconds=1.999999999)))
    assert log.since() == f"{(NANO + 2 * 10**9) // 10**9}.000000000"
    log.opened(resumed=True)
    log.note(events.parse(raw("die", seconds=40, exitCode="0")))
    assert log.take("job-a-1") is not None
    log.note(events.parse(raw("start", seconds=41)))
    log.opened()
    log.note(events.parse(raw("die", seconds=42, exitCode="0")))
    assert log.take("job-a-1") is None


class Quiet:
    """An event stream that delivers `events` and then times out reading, or ends (`then`)."""

    def __init__(self, items: list[dict[str, Any]], then: BaseException | None) -> None:
        self.items, self.then, self.closed = items, then, False

    def __iter__(self) -> Any:
        yield from self.items
        if self.then is not None:
            raise self.then

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("then", "quiet"),
    [
        (urllib3.exceptions.ReadTimeoutError(None, "/events", "Read timed out."), True),  # type: ignore[arg-type]
        (TimeoutError("timed out"), True),  # an SSH channel's read
        (None, False),  # the engine ended the stream
    ],
)
def test_following_a_stream_tells_each_event_and_whether_it_ended_quiet(
    then: BaseException | None, quiet: bool
) -> None:
    log, seen = events.ExitLog(), []
    stream = Quiet([raw("start"), raw("die", seconds=1, exitCode="0")], then)
    ended_quiet = events.follow(stream, log, lambda action, pod: seen.append((action, pod)), threading.Event())
    assert ended_quiet is quiet and stream.closed
    assert seen == [("start", "job-a-1"), ("die", "job-a-1")] and log.take("job-a-1") is not None


def test_a_broken_stream_is_not_taken_for_a_quiet_one() -> None:
    broken = urllib3.exceptions.ProtocolError("Connection broken", ConnectionResetError(104, "reset"))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        events.follow(Quiet([], broken), events.ExitLog(), lambda action, pod: None, threading.Event())


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
