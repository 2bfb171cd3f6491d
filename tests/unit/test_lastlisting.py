"""LastListing: the containers the DaemonSet and StatefulSet planners judge readiness from."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from miniorch.controllers.lastlisting import LastListing
from miniorch.controllers.podsync import Observed
from miniorch.nodes import records as nr
from miniorch.store.records import PodPhase, PodRecord

T0 = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def pod(started: dt.datetime | None, phase: PodPhase = PodPhase.RUNNING, **kw: Any) -> PodRecord:
    record = PodRecord("u1", "agent-1", "default", "DaemonSet", "agent", "o1", "node0", phase, created_at=T0)
    return dataclasses.replace(record, started_at=started, **kw)


def container(status: str) -> nr.ContainerState:
    return nr.ContainerState("c1", "agent-1", "node0", {}, status)


def listed(at: dt.datetime, status: str | None, late: set[str] | None = None) -> Observed:
    found = {"agent-1": container(status)} if status else {}
    return Observed(at, {} if late else {"node0": found}, [], {}, [], late=late or set())


def plan_only(at: dt.datetime) -> Observed:
    return Observed(at, {}, [], {}, [], listed=False)


def status_of(listing: dict[str, dict[str, nr.ContainerState]]) -> str | None:
    found = listing["node0"].get("agent-1")
    return found.status if found else None


def test_a_listing_asked_after_the_recorded_start_is_believed() -> None:
    last = LastListing()
    started = T0 + dt.timedelta(seconds=1)
    assert status_of(last.containers(listed(T0 + dt.timedelta(seconds=2), "exited"), [pod(started)])) == "exited"
    assert status_of(last.containers(plan_only(T0 + dt.timedelta(seconds=3)), [pod(started)])) == "exited"


def test_a_listing_under_way_while_the_pod_started_does_not_unready_it() -> None:
    """Asked for at T0, answered after the start was recorded (T0 + 10 ms): still `created`."""
    last = LastListing()
    got = last.containers(listed(T0, "created"), [pod(T0 + dt.timedelta(milliseconds=10))])
    assert status_of(got) == "running" and got["node0"]["agent-1"].health == "starting"


def test_a_plan_only_pass_takes_a_restart_recorded_after_the_listing() -> None:
    """Listed exited while Docker restarted it; the settle then recorded the new run."""
    last = LastListing()
    before = pod(T0 - dt.timedelta(minutes=1), restart_count=0)
    assert status_of(last.containers(listed(T0, "exited"), [before])) == "exited"
    restarted = pod(T0 - dt.timedelta(minutes=1), restart_count=1, run_started_at=T0 + dt.timedelta(milliseconds=100))
    assert status_of(last.containers(plan_only(T0 + dt.timedelta(seconds=2)), [restarted])) == "running"
    assert status_of(last.containers(plan_only(T0 + dt.timedelta(seconds=2)), [before])) == "exited"  # kept as listed


def test_a_pod_not_running_in_the_records_is_never_made_up() -> None:
    last = LastListing()
    last.containers(listed(T0, "exited"), [])
    later = T0 + dt.timedelta(seconds=1)
    for record in (pod(later, PodPhase.SUCCEEDED), pod(later, restart_pending=True), pod(None)):
        assert status_of(last.containers(plan_only(later), [record])) == "exited"


def test_a_late_node_keeps_its_last_listing_and_its_time() -> None:
    """node0 listed at T0 (exited), then late at T0 + 5 s: a run recorded at T0 + 1 s is newer
    than what is known of node0, though older than this pass's listings."""
    last = LastListing()
    last.containers(listed(T0, "exited"), [])
    late = listed(T0 + dt.timedelta(seconds=5), None, late={"node0"})
    assert status_of(last.containers(late, [pod(T0 - dt.timedelta(minutes=1))])) == "exited"
    restarted = pod(T0 - dt.timedelta(minutes=1), run_started_at=T0 + dt.timedelta(seconds=1))
    assert status_of(last.containers(late, [restarted])) == "running"
