"""Builders shared by the pure-planning unit tests: time, ids and the `pi` Job.

Deterministic on purpose: a fixed clock and counter-based pod ids.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def seconds(n: float) -> dt.timedelta:
    """A timedelta of n seconds."""
    return dt.timedelta(seconds=n)


def counter_ids() -> Callable[[], tuple[str, str]]:
    """A deterministic new_id: ('n1', 'uid-1'), ('n2', 'uid-2'), ..."""
    counter = itertools.count(1)

    def new_id() -> tuple[str, str]:
        n = next(counter)
        return f"n{n}", f"uid-{n}"

    return new_id
