"""The component tier: controllers against fake nodes and a real SQLite store, no Docker.

The whole tier runs in seconds; `cluster(scenario)` runs one async scenario (component/cluster.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from component.cluster import run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`-m component` selects the tier (it runs with everything under tests/ as well)."""
    for item in items:
        if "tests/component/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.component)


@pytest.fixture
def cluster(tmp_path: Path) -> Callable[..., None]:
    """`cluster(scenario, nodes=(...))` runs an async scenario against fake nodes and a temp SQLite store."""
    return functools.partial(run, tmp_path)
