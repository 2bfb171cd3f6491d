"""A node's bounded Docker call threads, and a heartbeat that never waits on a hung probe."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from miniorch import clock as clock_mod
from miniorch import config as config_mod
from miniorch.controllers.nodes import NodeMonitor
from miniorch.nodes import calls, records
from miniorch.store.store import Store


def test_calls_past_the_bound_fail_at_once_and_slots_free_only_when_calls_end() -> None:
    """limit 2: a third call is refused as NodeUnavailable without waiting; a call whose caller gave up
    keeps its slot until it really ends."""
    gate = calls.CallGate("n1", limit=2)
    release = threading.Event()
    try:
        first, second = gate.submit(release.wait), gate.submit(release.wait)
        start = time.monotonic()
        with pytest.raises(records.NodeBusy, match="2 Docker calls to it are still waiting"):
            gate.submit(lambda: None)
        assert time.monotonic() - start < 0.05
        assert (gate.in_flight, gate.peak, gate.rejected) == (2, 2, 1)

        async def give_up() -> None:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(gate.run(release.wait), 0.05)

        release.clear()
        first.cancel()  # already running: cannot be cancelled, still counts
        assert gate.in_flight == 2
        release.set()
        first.result(1), second.result(1)
        assert gate.in_flight == 0
        release.clear()
        asyncio.run(give_up())
        assert gate.in_flight == 1  # its caller gave up; the call itself still waits
        release.set()
        deadline = time.monotonic() + 1
        while gate.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gate.in_flight == 0
    finally:
        release.set()
        gate.close()


def test_a_closed_gate_refuses_calls_as_node_unavailable() -> None:
    gate = calls.CallGate("gone", limit=2)
    gate.close()
    with pytest.raises(records.NodeUnavailable, match="removed from the config"):
        gate.submit(lambda: None)
    assert gate.in_flight == 0


class _HangingClient:
    """Answers pings until `hang` is set, then blocks every probe until `release` is set."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hang = threading.Event()
        self.release = threading.Event()
        self.probes_during_hang = 0
        self.calls = calls.CallGate(name)
        self.errors: dict[str, int] = {}

    def ping(self) -> None:
        if self.hang.is_set():
            self.probes_during_hang += 1
            self.release.wait(5)
            raise records.NodeUnavailable(self.name, "timed out")

    def info(self) -> records.NodeInfo:
        self.ping()
        return records.NodeInfo(self.name, "20.10", "1.41", 2, 1 << 30, "linux", "6", "x86_64")

    def close(self) -> None:
        pass


def test_a_hung_probe_does_not_delay_not_ready_beyond_timeout_plus_one_heartbeat(tmp_path: Path) -> None:
    """Heartbeat 0.05 s, timeout 0.3 s: the probe hangs, yet the node turns NotReady within 0.35 s
    (+ scheduling slack), only one probe is ever waiting, and the other node stays Ready."""
    cfg = config_mod.Config.model_validate(
        {
            "nodes": [{"name": "hung", "url": "tcp://127.0.0.1:9", "insecure": True}, {"name": "fine"}],
            "timing": {"node_heartbeat_seconds": 0.05, "node_timeout_seconds": 0.3},
        }
    )
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    monitor = NodeMonitor(cfg, store, clock_mod.SystemClock(), on_change=lambda: None)
    fakes: dict[str, Any] = {}
    for name, state in monitor.nodes.items():
        state.client.calls.close()
        state.client = fakes.setdefault(name, _HangingClient(name))

    async def scenario() -> float:
        await monitor.probe_all()
        assert monitor.nodes["hung"].ready and monitor.nodes["fine"].ready
        runner = asyncio.create_task(monitor.run())
        await asyncio.sleep(0.2)
        fakes["hung"].hang.set()
        hung_at = time.monotonic()
        while monitor.nodes["hung"].ready:
            await asyncio.sleep(0.005)
            assert time.monotonic() - hung_at < 2
        took = time.monotonic() - hung_at
        assert not monitor.reachable("hung")
        await asyncio.sleep(0.2)
        runner.cancel()
        return took

    try:
        took = asyncio.run(scenario())
    finally:
        fakes["hung"].release.set()
        monitor.close()
        store.close()
    assert took <= 0.35 + 0.1, took
    assert fakes["hung"].probes_during_hang == 1
    assert monitor.nodes["fine"].ready
    assert "no answer from Docker" in monitor.nodes["hung"].last_error
