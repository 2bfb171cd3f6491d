"""The SIGUSR2 memory report: what grew since the last one, or how to turn tracing on."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest
import structlog.testing

from miniorch import memtrace


@pytest.fixture
def tracing() -> Iterator[None]:
    tracemalloc.start(3)
    try:
        yield
    finally:
        tracemalloc.stop()


def _grow() -> list[bytes]:
    return [bytes(1024) for _ in range(2000)]  # about 2 MiB from this line


def test_a_second_report_names_what_grew_since_the_first(tracing: None) -> None:
    report = memtrace.MemoryReport()
    with structlog.testing.capture_logs() as logs:
        report.report()
        kept = _grow()
        report.report()
    first, second = logs
    assert first["event"] == second["event"] == "memory_report"
    assert first["since"] == "start" and second["since"] == "last report"
    top = second["top"][0]
    assert top["kib_diff"] > 1500 and top["blocks_diff"] >= 2000, top
    assert any(w.endswith(f"test_memtrace.py:{_grow.__code__.co_firstlineno + 1}") for w in top["where"]), top
    assert len(kept) == 2000


def test_without_tracing_it_says_how_to_turn_it_on() -> None:
    assert not tracemalloc.is_tracing()
    with structlog.testing.capture_logs() as logs:
        memtrace.MemoryReport().report()
    assert logs[0]["event"] == "memory_report_unavailable" and "PYTHONTRACEMALLOC" in logs[0]["fix"]
