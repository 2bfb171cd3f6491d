"""The workload loop: one level-triggered pass for every kind that owns pods.

Each pass observes containers and records once (PodSync), then lets each
kind's planner reconcile its objects. Docker events, finished operations and
API writes only wake the loop early; a resync runs every RESYNC_SECONDS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Protocol

import structlog

from miniorch import clock as clock_mod
from miniorch import metrics as metrics_mod
from miniorch.config import Config
from miniorch.controllers import outage
from miniorch.controllers.models import ModelCache
from miniorch.controllers.pods import PodRunner
from miniorch.controllers.podsync import Observed, PodSync
from miniorch.controllers.storeio import store_io
from miniorch.store.errors import StoreUnavailable
from miniorch.store.records import ObjectRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

RESYNC_SECONDS = 2.0
# How soon a pass follows a pod operation that changed nothing a plan waits on (a start, a
# removal): such ends arrive in bursts, and one pass a little later serves them all.
LATER_SECONDS = 0.2


class Planner(Protocol):
    """Reconciles the objects of one kind; told about each pass's observations."""

    kind: str

    def apply_config(self, config: Config) -> None: ...

    def begin_pass(self, seen: Observed) -> None:
        """Once a pass, before its objects: forget what it plans no more (`seen.owners`)."""

    def reconcile(self, obj: ObjectRecord, seen: Observed) -> dt.datetime | None:
        """Plan and act for one object; returns when it wants to be looked at again."""

    def delete(self, obj: ObjectRecord, seen: Observed) -> None:
        """Tear down an object marked for deletion (forget it once nothing is left)."""

    async def cancel(self) -> None:
        """Shutdown: abandon the work this planner runs off the pass (each piece is safe to redo)."""


class Wakeups:
    """What asks the workload loop for a pass, shared by everything that may (the runner, the node
    monitor, Docker events, API writes); built before them by the composition root. `wake` and
    `plan_soon` are safe from any thread; the others run on the event loop."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.observe = True  # the next pass lists the containers again
        self.died: set[tuple[str, str]] = set()  # (node, pod) whose run ended: settle it on the next pass
        self.later: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the workload pass runs on (a wake from another thread is handed to it)."""
        self._loop = loop

    def _ring(self) -> None:
        loop = self._loop
        if loop is None or _running_loop() is loop:
            self.event.set()
        else:
            loop.call_soon_threadsafe(self.event.set)

    def wake(self) -> None:
        """Something may have changed anywhere: look at the containers again, then plan."""
        self.observe = True
        self._ring()

    def plan_soon(self) -> None:
        """The store changed but no container did (our own operation recorded its result, an
        object was applied or deleted): plan again without listing containers."""
        self._ring()

    def plan_later(self) -> None:
        """A pass within LATER_SECONDS is enough (status only: ready counts, removals)."""
        if self.later is None:
            self.later = asyncio.get_running_loop().call_later(LATER_SECONDS, self.plan_soon)

    def operation_done(self, pod: str) -> None:
        """A pod operation ended (PodRunner's `done`)."""
        if any(name == pod for _, name in self.died):
            self.plan_soon()  # its container died while the operation ran: settle it now
        else:
            self.plan_later()

    def docker_event(self, node: str, action: str, pod: str) -> None:
        """A container changed. A `die` names the pod whose run ended: that pod is settled on
        the next pass without listing every node's containers again (the periodic resync still
        does); anything else (a health change) is looked at in full."""
        if action in ("die", "oom"):
            self.died.add((node, pod))
            self.plan_soon()
        else:
            self.wake()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class WorkloadController:
    """The pass: PodSync observes and settles, then each planner reconciles its kind's objects.
    Its collaborators come from the composition root (controllers/wiring.py)."""

    def __init__(
        self,
        store: Store,
        clock: clock_mod.Clock,
        wakeups: Wakeups,
        runner: PodRunner,
        pods: PodSync,
        models: ModelCache,
        metrics: metrics_mod.Metrics,
    ) -> None:
        self.metrics = metrics
        self._store = store
        self._clock = clock
        self._wakeups = wakeups
        self._wake_at: dt.datetime | None = None
        self.models = models
        self._outage = outage.Outage("workloads")
        self._resync_at = 0.0  # monotonic time of the next full look at the containers
        self.runner = runner
        self.pods = pods
        self.planners: list[Planner] = []

    def add(self, planner: Planner) -> None:
        self.planners.append(planner)

    def apply_config(self, config: Config) -> None:
        for planner in self.planners:
            planner.apply_config(config)

    def wake(self) -> None:
        """Look at the containers again, then plan (see Wakeups.wake)."""
        self._wakeups.wake()

    async def cancel(self) -> None:
        """Shutdown: the planners' work in flight (volume removals, ...) and then the pods' operations."""
        for planner in self.planners:
            await planner.cancel()
        await self.runner.cancel()

    def drain(self, node: str) -> list[str]:
        """Evict the pods on `node` that their owner kind lets drain evict (PodSync.drain); returns
        those still there."""
        left = self.pods.drain(node)
        self.wake()
        return left

    async def run(self) -> None:
        wakeups = self._wakeups
        wakeups.bind(asyncio.get_running_loop())
        while True:
            timeout = max(0.0, self._resync_at - time.monotonic())
            if self._wake_at is not None:
                timeout = min(timeout, max(0.0, (self._wake_at - self._clock.now()).total_seconds()))
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation that
                # arrives as the event is set, and the daemon's shutdown then waits for this task forever.
                async with asyncio.timeout(timeout):
                    await wakeups.event.wait()
            except TimeoutError:
                pass
            else:
                # Let wakes already queued (other watcher threads, ending operations) join this pass.
                # No longer a 5 ms wait: passes are cheap now, and it cost a serial Job 10 ms a pod.
                await asyncio.sleep(0)
            wakeups.event.clear()
            if time.monotonic() >= self._resync_at:
                wakeups.observe = True  # the periodic resync, however busy the loop is
            if self.runner.failures:
                raise self.runner.failures[0]
            try:
                if self.runner.store_failed:  # the outage is logged, and its end, by the database's answer
                    await store_io(self._store.resource_version)
                    self.runner.store_failed = False
                with self.metrics.reconcile_duration.time():
                    await self.reconcile_once()
            except StoreUnavailable as exc:  # nothing was recorded: the next pass sees it all again
                wakeups.observe = True
                await asyncio.sleep(self._outage.failed(exc))
                wakeups.event.set()
            else:
                self._outage.worked()

    async def reconcile_once(self) -> None:
        """One pass. After our own operations only, containers are not listed again: the
        records are already current, so the planners run on them directly."""
        wakeups = self._wakeups
        observe, wakeups.observe = wakeups.observe, False
        if observe:
            self._resync_at = time.monotonic() + RESYNC_SECONDS
        if wakeups.later is not None:  # this pass serves it
            wakeups.later.cancel()
            wakeups.later = None
        seen = await self.pods.observe([p.kind for p in self.planners], list_containers=observe)
        died, wakeups.died = wakeups.died, set()
        # A pod busy with an operation begun before this pass (its launch still recording the
        # start) is settled once that ends: the operation's end wakes a pass, which must still
        # know of the `die`. A settle this pass starts uses the `die` up; keeping it for that
        # settle too settled a container Docker restarted in place again after every settle.
        busy = {key for key in died if self.runner.busy(key[1])}
        if observe:
            self.pods.sync(seen, died)
            self.pods.collect_orphans(seen)
        else:
            self.pods.settle_died(seen, died)
        live = {(p.node, p.name) for p in seen.live}
        wakeups.died |= busy & live
        self._wake_at = None
        self.models.keep(seen.owners)
        for planner in self.planners:
            planner.begin_pass(seen)
            for obj in seen.owners.values():
                if obj.kind != planner.kind:
                    continue
                if obj.deleting:
                    planner.delete(obj, seen)
                    continue
                wake_at = planner.reconcile(obj, seen)
                if wake_at and (self._wake_at is None or wake_at < self._wake_at):
                    self._wake_at = wake_at
