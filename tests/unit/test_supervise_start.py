"""Tasks and threads started through `supervise` end with a logged cause; a supervised crash ends the daemon."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from miniorch import supervise
from miniorch.controllers.leadership import Leadership
from miniorch.controllers.workloads import Wakeups
from miniorch.store.lease import LeaseState


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with capture_logs() as captured:
        yield captured


def events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == name]


def crash_seen(start: Callable[[supervise.Supervisor], object]) -> supervise.ThreadCrashed:
    """Install a Supervisor, `start(supervisor)`, and return what its watch() raised."""

    async def main() -> supervise.ThreadCrashed:
        sup = supervise.install(asyncio.get_running_loop())
        try:
            start(sup)
            with pytest.raises(supervise.ThreadCrashed) as crash:
                await asyncio.wait_for(sup.watch(), 5)
            return crash.value
        finally:
            sup.uninstall()

    return asyncio.run(main())


def test_a_thread_that_returns_logs_its_end_with_the_cause_it_gives(logs: list[MutableMapping[str, Any]]) -> None:
    """thread_ended names the thread and the cause its target returned ("returned" when it gives none)."""
    supervise.start_thread(lambda stop: f"stopped by {stop}", "worker:a", "test").join()
    supervise.start_thread(lambda: None, "worker:b").join()
    assert [(e["thread"], e["cause"]) for e in events(logs, "thread_ended")] == [
        ("worker:a", "stopped by test"),
        ("worker:b", "returned"),
    ]


def test_a_started_thread_that_crashes_takes_the_daemon_down(logs: list[MutableMapping[str, Any]]) -> None:
    """A crash in a thread from start_thread reaches the Supervisor: thread_crashed, and watch() raises."""

    def boom() -> str:
        raise RuntimeError("lease table vanished")

    crash = crash_seen(lambda sup: supervise.start_thread(boom, "lease-renew").join())
    assert crash.thread == "lease-renew" and "lease table vanished" in str(crash)
    assert [e["thread"] for e in events(logs, "thread_crashed")] == ["lease-renew"]
    assert not events(logs, "thread_ended")


def test_spawned_tasks_log_how_they_ended(logs: list[MutableMapping[str, Any]]) -> None:
    """task_ended (returned / cancelled) and task_crashed (error and cause); a quiet task logs only a crash."""

    async def crash() -> None:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as exc:
            raise RuntimeError("probe failed") from exc

    async def main() -> None:
        done = supervise.spawn(asyncio.sleep(0), "short")
        hang = supervise.spawn(asyncio.sleep(30), "long")
        bad = supervise.spawn(crash(), "probe:n1", quiet=True)
        quiet = supervise.spawn(asyncio.sleep(0), "probe:n2", quiet=True)
        await asyncio.sleep(0.01)
        hang.cancel()
        await asyncio.gather(done, hang, bad, quiet, return_exceptions=True)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert sorted((e["task"], e["cause"]) for e in events(logs, "task_ended")) == [
        ("long", "cancelled"),
        ("short", "returned"),
    ]
    (crashed,) = events(logs, "task_crashed")
    assert crashed["task"] == "probe:n1" and crashed["error"] == "RuntimeError('probe failed')"
    assert crashed["cause"] == "ConnectionResetError(104, 'Connection reset by peer')"


def test_a_task_the_supervisor_spawned_takes_the_daemon_down_when_it_crashes() -> None:
    """Supervisor.spawn (the SIGHUP reload): its crash makes watch() raise, naming the task."""

    async def reload() -> None:
        raise KeyError("nodes")

    crash = crash_seen(lambda sup: sup.spawn(reload(), "config-reload"))
    assert str(crash) == "task 'config-reload' died: KeyError('nodes')"


class _Leases:
    def acquire(self, holder: str, address: str, seconds: float) -> LeaseState:
        return LeaseState(holder, address, 1, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), True)

    def renew(self, holder: str, epoch: int, seconds: float) -> LeaseState | None:
        return None

    def release(self, holder: str, epoch: int) -> None:
        return None


def test_the_lease_threads_end_with_their_cause(logs: list[MutableMapping[str, Any]]) -> None:
    """Released: both lease threads log thread_ended "lease released"; they are started through supervise."""
    leadership = Leadership(_Leases(), "a", "a:1", 30, 1, on_lost=lambda why: None)  # type: ignore[arg-type]
    assert leadership.try_acquire()
    leadership.start()
    threads = [t for t in threading.enumerate() if t.name in ("lease-renew", "lease-guard")]
    leadership.release()
    for thread in threads:
        thread.join(5)
    assert sorted((e["thread"], e["cause"]) for e in events(logs, "thread_ended")) == [
        ("lease-guard", "lease released"),
        ("lease-renew", "lease released"),
    ]


def test_a_wake_from_another_thread_wakes_the_waiting_loop_at_once() -> None:
    """An API route (a worker thread) asking for a pass is not left waiting for the next resync."""

    async def main() -> float:
        wakeups = Wakeups()
        loop = asyncio.get_running_loop()
        wakeups.bind(loop)
        started = loop.time()
        threading.Timer(0.05, wakeups.plan_soon).start()
        await asyncio.wait_for(wakeups.event.wait(), 5)
        return loop.time() - started

    assert asyncio.run(main()) < 1.0
