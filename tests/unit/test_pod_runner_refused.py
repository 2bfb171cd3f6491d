"""PodRunner against a fake node: a refused create or start is recorded, announced and retried, not deferred."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from miniorch import clock as clock_mod
from miniorch.controllers.pods import PodRunner
from miniorch.nodes import records as nr
from miniorch.store.records import PodPhase, PodRecord
from miniorch.store.store import Store

T = TypeVar("T")

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
BRIDGE = "failed to create endpoint p on network bridge: could not find bridge docker0"


class FakeNode:
    """A node whose engine refuses to start containers (its bridge is gone), or does not answer."""

    def __init__(self, start_error: nr.NodeError | None) -> None:
        self.start_error = start_error
        self.calls: list[str] = []

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """As NodeClient.run: a blocking call, here done inline."""
        return fn(*args, **kwargs)

    def create(self, spec: nr.ContainerSpec) -> str:
        self.calls.append("create")
        return "id"

    def start(self, name: str) -> None:
        self.calls.append("start")
        if self.start_error is not None:
            raise self.start_error

    def remove(self, name: str) -> None:
        self.calls.append("remove")


class FakeMonitor:
    def __init__(self, node: FakeNode) -> None:
        self.node = node

    def client(self, name: str) -> FakeNode:
        return self.node


def _run(tmp_path: Path, node: FakeNode, tries: int) -> tuple[Store, PodRecord, list[str]]:
    """Launch the pod `tries` times (each after its backoff), as the passes would."""
    store = Store(f"sqlite:///{tmp_path}/state.db")
    clock = clock_mod.FakeClock(T0)
    woken: list[str] = []
    pod = PodRecord(
        uid="u1",
        name="p",
        namespace="default",
        owner_kind="Job",
        owner_name="j",
        owner_uid="j-uid",
        node="node2",
        created_at=T0,
    )
    store.save_pod(pod)

    async def main() -> None:
        runner = PodRunner(
            store,
            FakeMonitor(node),  # type: ignore[arg-type]
            clock,
            lambda: woken.append("wake"),
            look=lambda: woken.append("look"),
        )
        for _ in range(tries):
            current = store.get_pod_by_uid("u1")
            assert current is not None
            runner.launch(current, nr.ContainerSpec(name="p", image="busybox", labels={}))
            while runner.busy("p"):
                await asyncio.sleep(0.001)
            clock.advance(10)
        await runner.cancel()

    asyncio.run(main())
    final = store.get_pod_by_uid("u1")
    assert final is not None
    return store, final, woken


def test_a_start_the_engine_refuses_is_recorded_with_an_event_and_the_container_removed(tmp_path: Path) -> None:
    """One refused start (HTTP 500): Pending, RunContainerError, the engine's words, one try; a Warning Failed
    event on the pod naming the node; the half-made container removed for a clean next try."""
    node = FakeNode(nr.EngineError("node2", f"start p: {BRIDGE}"))
    store, pod, _ = _run(tmp_path, node, 1)
    assert (pod.phase, pod.reason, pod.message, pod.start_attempts) == (
        PodPhase.PENDING,
        "RunContainerError",
        f"start p: {BRIDGE}",
        1,
    )
    assert node.calls == ["create", "start", "remove"]
    (event,) = store.list_events(uid="u1")
    assert (event.kind, event.type, event.reason, event.count) == ("Pod", "Warning", "Failed", 1)
    assert event.message == f"Error: node 'node2': start p: {BRIDGE}"


def test_five_refused_starts_fail_the_pod_with_one_counted_event(tmp_path: Path) -> None:
    """The 5th refusal fails the pod (a counted run, the controller woken to plan its replacement);
    the event is bumped to count 5 even though the engine's words change every try."""
    node = FakeNode(None)
    tries = 0

    def refuse(name: str) -> None:
        nonlocal tries
        tries += 1
        raise nr.EngineError("node2", f"start p: adding interface veth{tries:07x} to bridge: {BRIDGE}")

    node.start = refuse  # type: ignore[method-assign]
    store, pod, woken = _run(tmp_path, node, 5)
    assert (pod.phase, pod.reason, pod.failures, pod.container_removed) == (
        PodPhase.FAILED,
        "RunContainerError",
        1,
        True,
    )
    assert pod.message.endswith("(gave up after 5 tries)") and "veth0000005" in pod.message
    (event,) = store.list_events(uid="u1")
    assert event.count == 5 and "veth0000005" in event.message
    assert "wake" in woken


def test_an_engine_that_does_not_answer_defers_the_launch_without_counting_a_try(tmp_path: Path) -> None:
    """No answer at all (NodeUnavailable, not an EngineError): node loss handling, not a refused try."""
    node = FakeNode(nr.NodeUnavailable("node2", "start p: Docker did not answer"))
    store, pod, _ = _run(tmp_path, node, 1)
    assert (pod.phase, pod.reason, pod.start_attempts) == (PodPhase.PENDING, "", 0)
    assert store.list_events(uid="u1") == []
