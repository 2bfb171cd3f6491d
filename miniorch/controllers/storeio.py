"""`store_io`: the one way async code calls the store (see the rule in `miniorch.controllers`).

Store calls block on the database (SQLite locks, a PostgreSQL round trip, a reconnect
during an outage); from a coroutine they run on the daemon's I/O thread pool, never on
the event loop, so the API, the heartbeats and the Docker event wake-ups keep their pace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def store_io(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`await store_io(store.save_pod, pod)`: run one store call (or a synchronous pass made of
    store calls) on the default executor and return its result; its exceptions propagate."""
    return await asyncio.to_thread(fn, *args, **kwargs)
