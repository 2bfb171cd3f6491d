"""VolumeReaper against a fake node: a failed removal is retried, and shutdown lets a removal end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from miniorch.controllers import statefulsets
from miniorch.controllers.statefulsets import VolumeReaper
from miniorch.nodes import records as nr

T = TypeVar("T")


class FakeVolumes:
    def __init__(self, node: FakeNode) -> None:
        self.node = node

    def remove(self, name: str) -> None:
        self.node.tries.append(name)
        if self.node.failures:
            self.node.failures -= 1
            raise nr.ContainerConflict("node0", f"remove volume {name}: volume is in use")
        self.node.removed.append(name)


class FakeNode:
    """Refuses the first `failures` removals (the replica's container is still being removed)."""

    def __init__(self, failures: int = 0, delay: float = 0.0) -> None:
        self.failures = failures
        self.delay = delay
        self.tries: list[str] = []
        self.removed: list[str] = []

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        await asyncio.sleep(self.delay)
        return fn(*args)

    def volumes(self) -> FakeVolumes:
        return FakeVolumes(self)


class FakeMonitor:
    def __init__(self, node: FakeNode) -> None:
        self.node = node

    def client(self, name: str) -> FakeNode:
        return self.node


def test_a_refused_removal_is_retried_until_the_volume_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statefulsets, "REMOVE_RETRIES", (0.01, 0.01, 0.01, 0.01))
    node = FakeNode(failures=2)

    async def scenario() -> None:
        reaper = VolumeReaper(FakeMonitor(node))  # type: ignore[arg-type]
        reaper.remove("node0", "www-web-2", "web")
        for _ in range(100):
            if node.removed:
                break
            await asyncio.sleep(0.01)
        await reaper.cancel()

    asyncio.run(scenario())
    assert node.tries == ["www-web-2"] * 3
    assert node.removed == ["www-web-2"]


def test_shutdown_lets_a_removal_in_flight_end() -> None:
    node = FakeNode(delay=0.2)

    async def scenario() -> None:
        reaper = VolumeReaper(FakeMonitor(node))  # type: ignore[arg-type]
        reaper.remove("node0", "www-web-1", "web")
        await asyncio.sleep(0.01)
        await reaper.cancel(grace=2.0)

    asyncio.run(scenario())
    assert node.removed == ["www-web-1"]
