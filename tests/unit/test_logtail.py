"""Pod log text: stored tails stay within their bounds on whole lines; lines are picked by run, time and count."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from miniorch import logtail
from miniorch.controllers import podrecords as pod_logic
from miniorch.nodes.records import ContainerState
from miniorch.store.records import PodPhase, PodRecord

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def line(seconds: float, text: str) -> str:
    """A line as Docker writes it with timestamps=1 (nanoseconds, fixed width)."""
    when = at(seconds)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:06d}123Z {text}\n"


# Three runs of one container restarted in place: starts at 0, 10 and 20 s.
LOG = line(0, "run1 a") + line(1, "run1 b") + line(10, "run2 a") + line(11.5, "run2 b") + line(20, "run3 a")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ["run1 a", "run1 b", "run2 a", "run2 b", "run3 a"]),
        ({"tail": 2}, ["run2 b", "run3 a"]),
        ({"tail": 0}, []),
        ({"since": at(11)}, ["run2 b", "run3 a"]),
        ({"since": at(11), "tail": 1}, ["run3 a"]),
        ({"window": logtail.Window(at(10), at(20))}, ["run2 a", "run2 b"]),
        ({"window": logtail.Window(None, at(10))}, ["run1 a", "run1 b"]),
        ({"window": logtail.Window(at(10), at(20)), "since": at(11)}, ["run2 b"]),
    ],
)
def test_select_picks_lines_by_window_since_and_tail_and_strips_timestamps(
    kwargs: dict[str, object], expected: list[str]
) -> None:
    """Lines are kept by run window, then by --since, then the last --tail; timestamps are stripped."""
    assert logtail.select(LOG, **kwargs).splitlines() == expected  # type: ignore[arg-type]


def test_select_keeps_docker_timestamps_when_asked() -> None:
    """--timestamps prints Docker's RFC 3339 (nanosecond) prefix unchanged."""
    out = logtail.select(LOG, tail=1, timestamps=True)
    assert out == line(20, "run3 a") and out.startswith("2026-01-02T03:04:25.000000123Z ")


def test_stamp_of_reads_nanosecond_and_whole_second_prefixes() -> None:
    """Docker's fixed nanoseconds and a whole-second stamp both parse; plain text has none."""
    assert logtail.stamp_of(line(1.5, "x")) == at(1.5)
    assert logtail.stamp_of("2026-01-02T03:04:05Z x") == T0
    assert logtail.stamp_of("hello 2026-01-02T03:04:05Z") is None


@pytest.mark.parametrize(
    ("recorded", "before", "current", "expected"),
    [
        # running again since the last record: the recorded run is the previous one
        (at(10), at(0), at(20), logtail.Window(at(10), at(20))),
        # first restart of a run never recorded before (from the beginning)
        (at(0), None, at(10), logtail.Window(at(0), at(10))),
        # the latest run is the recorded one (its container exited, or is gone): the one before it
        (at(20), at(10), at(20), logtail.Window(at(10), at(20))),
        (at(20), at(10), None, logtail.Window(at(10), at(20))),
        # a DaemonSet container restarted by Docker once: everything before the current run
        (at(10), None, at(10), logtail.Window(None, at(10))),
    ],
)
def test_previous_run_window(
    recorded: dt.datetime, before: dt.datetime | None, current: dt.datetime | None, expected: logtail.Window
) -> None:
    """--previous covers the run before the latest one, whether or not the store has seen the latest start;
    boundaries sit a margin before each start (Docker stamps a run's first line just before its StartedAt)."""
    margin = logtail.BOUNDARY_MARGIN
    early = logtail.Window(*(t - margin if t is not None else None for t in (expected.start, expected.end)))
    assert logtail.previous_run(recorded, before, current) == early


def test_a_first_line_stamped_just_before_startedat_belongs_to_its_run() -> None:
    """Seen on Docker: the new run's line 3 ms before its StartedAt stays out of the previous run."""
    log = line(0, "first") + line(9.997, "second")
    window = logtail.previous_run(at(0), None, at(10))
    assert logtail.select(log, window=window).split() == ["first"]


def test_bound_keeps_whole_lines_within_bytes_and_lines() -> None:
    """A cut never leaves half a line (every kept line keeps its timestamp); both limits hold."""
    raw = "".join(line(i, "x" * 50) for i in range(100)).encode()
    by_bytes = logtail.bound(raw, max_bytes=1000, max_lines=2000)
    assert len(by_bytes.encode()) <= 1000 and by_bytes.splitlines()
    assert all(logtail.stamp_of(text) is not None for text in by_bytes.splitlines())
    assert by_bytes.endswith(line(99, "x" * 50))
    assert logtail.bound(raw, max_bytes=10**6, max_lines=3).splitlines() == [
        text.rstrip("\n") for text in (line(97, "x" * 50), line(98, "x" * 50), line(99, "x" * 50))
    ]
    assert logtail.bound(raw) == raw.decode()


def _pod(**fields: object) -> PodRecord:
    return PodRecord(
        uid="u",
        name="p",
        namespace="default",
        owner_kind="Job",
        owner_name="j",
        owner_uid="o",
        node="n",
        phase=PodPhase.RUNNING,
        **{"created_at": T0, **fields},  # type: ignore[arg-type]
    )


def _exited(started: dt.datetime) -> ContainerState:
    return ContainerState(
        id="c", name="p", node="n", labels={}, status="exited", exit_code=1, started_at=started, finished_at=at(99)
    )


def test_each_recorded_run_shifts_the_run_starts_and_marks_the_tail_timestamped() -> None:
    """on_exit records the run's start; the run before it becomes the previous run (OnFailure restarts)."""
    first = pod_logic.on_exit(_pod(), _exited(at(0)), "OnFailure", LOG, at(5), timestamped=True)
    assert (first.run_started_at, first.previous_run_started_at, first.log_timestamped) == (at(0), None, True)
    second = pod_logic.on_exit(
        dataclasses.replace(first, restart_pending=False), _exited(at(10)), "OnFailure", LOG, at(15)
    )
    assert (second.run_started_at, second.previous_run_started_at) == (at(10), at(0))
    again = pod_logic.on_exit(second, _exited(at(10)), "OnFailure", LOG, at(16))  # the same run seen twice
    assert (again.run_started_at, again.previous_run_started_at) == (at(10), at(0))


def test_a_docker_restart_in_place_shifts_the_run_starts() -> None:
    """A DaemonSet container Docker restarted: its new StartedAt is the latest run."""
    running = ContainerState(
        id="c", name="p", node="n", labels={}, status="running", started_at=at(10), restart_count=1
    )
    pod = pod_logic.on_docker_restart(_pod(run_started_at=None), running)
    assert (pod.run_started_at, pod.previous_run_started_at, pod.restart_count) == (at(10), None, 1)


def test_a_carriage_return_stays_inside_its_line() -> None:
    """Only "\\n" ends a line: a progress bar's "\\r" neither splits a line nor loses its tail to a filter."""
    log = line(0, "10%\r50%\r100%") + line(1, "done")
    assert logtail.select(log, since=at(0)) == "10%\r50%\r100%\ndone\n"
    assert logtail.select(log, tail=1) == "done\n"
    assert logtail.bound(log.encode(), max_lines=1) == line(1, "done")
    assert logtail.lines_of("a\nb") == ["a\n", "b"] and logtail.lines_of("") == []


@pytest.mark.parametrize(
    ("raw", "expected"), [(b"a\nb\nc\n", "b\nc\n"), (b"a\nb\nc", "b\nc"), (b"a\nb", "a\nb"), (b"", "")]
)
def test_bound_counts_an_unfinished_last_line(raw: bytes, expected: str) -> None:
    """Two lines at most, whether or not the last one ended."""
    assert logtail.bound(raw, max_lines=2) == expected
