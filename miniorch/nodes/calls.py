"""Each node's Docker calls run on that node's own threads, a bounded number at once.

A hung or partitioned engine ties up only its own threads (every call still
ends at its timeout), and a call beyond `MAX_IN_FLIGHT` fails at once as
NodeUnavailable instead of queueing: no pile-up grows while a node hangs, and
no other node, store write or API request ever waits behind it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import TypeVar

from miniorch.nodes import records

T = TypeVar("T")

#: Docker calls to one node that may be waiting for an answer at once. A healthy engine
#: answers in milliseconds, so even a Job with parallelism 40 on one node stays far below.
MAX_IN_FLIGHT = 32


class CallGate:
    """The threads and the in-flight bound of one node's blocking Docker calls."""

    def __init__(self, node: str, limit: int = MAX_IN_FLIGHT) -> None:
        self.node = node
        self.limit = limit
        self._pool = concurrent.futures.ThreadPoolExecutor(limit, thread_name_prefix=f"docker:{node}")
        self._lock = threading.Lock()
        self.in_flight = 0  # submitted and not finished (a call whose caller gave up still counts)
        self.peak = 0
        self.rejected = 0

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Start `fn` on one of the node's threads, or raise NodeBusy when the bound is reached."""
        with self._lock:
            if self.in_flight >= self.limit:
                self.rejected += 1
                raise records.NodeBusy(
                    self.node,
                    f"{self.limit} Docker calls to it are still waiting for an answer (busy, hung or unreachable); "
                    "the call was not sent",
                )
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            future = self._pool.submit(fn)
        except RuntimeError as exc:  # the pool is shut down: the node left the config
            self._release(None)
            raise records.NodeUnavailable(self.node, "the node was removed from the config") from exc
        future.add_done_callback(self._release)
        return future

    def _release(self, _future: concurrent.futures.Future[T] | None) -> None:
        with self._lock:
            self.in_flight -= 1

    async def run(self, fn: Callable[[], T]) -> T:
        """Await `fn` run on the node's threads. Cancelling the wait does not free the slot:
        the call holds it until it really ends (at its timeout at the latest)."""
        return await asyncio.wrap_future(self.submit(fn))

    def close(self) -> None:
        """Refuse new calls; calls in flight end at their own timeouts."""
        self._pool.shutdown(wait=False, cancel_futures=True)
