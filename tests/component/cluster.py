"""A cluster for the component tier: the pod controllers (WorkloadController, PodRunner,
PodSync, the Job planner) against fake nodes (tests/support/fakenode.py) and a real SQLite
store in a temp file. A scenario runs with the controller loop as a task.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from support.daemon import job_yaml
from support.fakenode import FakeMonitor, FakeNode

from miniorch import clock as clock_mod
from miniorch.config import Config, PolicyConfig
from miniorch.controllers import wiring
from miniorch.controllers.objects import Applier
from miniorch.controllers.workloads import Wakeups
from miniorch.metrics import Metrics
from miniorch.nodes import events
from miniorch.spec import loader
from miniorch.store.records import ObjectRecord, PodPhase, PodRecord
from miniorch.store.store import Store

WAIT_SECONDS = 5.0


class Cluster:
    def __init__(self, tmp_path: Path, names: tuple[str, ...]) -> None:
        self.store = Store(f"sqlite:///{tmp_path / 'state.db'}")
        self.nodes = {name: FakeNode(name) for name in names}
        self.monitor = FakeMonitor(*self.nodes.values())
        self.clock = clock_mod.SystemClock()
        self.task: asyncio.Task[None] | None = None
        self.start()

    def start(self) -> None:
        """A daemon (re)started on the same store and nodes: fresh controllers, fresh event streams."""
        self.wakeups = Wakeups()
        self.metrics = Metrics()
        parts = wiring.build_pods(Config(), self.store, self.clock, self.metrics, self.monitor.monitor(), self.wakeups)
        self.controller, self.runner = parts.workloads, parts.runner
        self.applier = Applier(self.store, PolicyConfig(), self.wakeups.plan_soon, self.clock.now)
        for node in self.nodes.values():
            node.on_event = self.wakeups.docker_event
        self.task = asyncio.get_running_loop().create_task(self.controller.run())

    async def restart(self) -> None:
        """kill -9 of the daemon and a new one: its in-memory state and event streams are gone."""
        await self.stop()
        for node in self.nodes.values():
            node.exits = events.ExitLog()  # the new daemon's own clients and streams
            node.exits.opened()
        self.start()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.runner.cancel()

    def node(self, name: str = "node0") -> FakeNode:
        return self.nodes[name]

    def apply(self, name: str, command: str = "true", **kw: object) -> ObjectRecord:
        self.applier.apply(loader.load_text(job_yaml(name, command, **kw), "test"), "api")  # type: ignore[arg-type]
        job = self.store.get_object("Job", "default", name)
        assert job is not None
        return job

    def phase(self, pod: str) -> PodPhase | None:
        record = self.store.get_pod("default", pod)
        return record.phase if record else None

    def pods(self, job: str) -> list[PodRecord]:
        obj = self.store.get_object("Job", "default", job)
        assert obj is not None
        return sorted(self.store.pods_of(obj.uid), key=lambda p: p.created_at)

    def status(self, job: str) -> dict[str, object]:
        obj = self.store.get_object("Job", "default", job)
        assert obj is not None
        return obj.status

    def complete(self, job: str) -> bool:
        conditions = self.status(job).get("conditions") or []
        assert isinstance(conditions, list)
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    async def wait_for(self, what: str, check: Callable[[], object], timeout: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if self.task is not None and self.task.done():
                self.task.result()  # the loop died: show why
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def running(self, job: str, count: int = 1) -> list[PodRecord]:
        """Wait until `count` pods of `job` run (their containers started)."""
        await self.wait_for(
            f"{count} running pods of {job}",
            lambda: len([p for p in self.pods(job) if p.phase.value == "Running"]) >= count,
        )
        return [p for p in self.pods(job) if p.phase.value == "Running"]


Scenario = Callable[[Cluster], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario, nodes: tuple[str, ...] = ("node0",)) -> None:
    """Run `scenario` on a fresh cluster of `nodes` (all Ready), in its own event loop."""

    async def main() -> None:
        c = Cluster(tmp_path, nodes)
        try:
            await scenario(c)
        finally:
            for node in c.nodes.values():
                node.unhang()  # calls waiting on a hung node end
            await asyncio.sleep(0.01)
            await c.stop()
            c.store.close()

    asyncio.run(main())
