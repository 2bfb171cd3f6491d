"""Each pass's container listing of every reachable node, never held up by a slow one.

A node that has not answered within its own wait (a multiple of what its listings usually
take) is left out of the pass as `late`: its pods stay as they are, and a hung engine never
slows the work on the other nodes.
"""

from __future__ import annotations

import asyncio
import functools
import time

import structlog

from miniorch.controllers.nodes import NodeMonitor
from miniorch.nodes import records as nr

log = structlog.get_logger(__name__)

#: How long a pass waits for one node's container listing: LIST_WAIT_FACTOR times what its
#: listings usually take, within these bounds. A node that has not answered by then is left
#: out of this pass (its pods stay as they are), so a hung engine never slows the work on the
#: other nodes. While that listing is in flight no other is sent (no pile-up); its late answer
#: is dropped, as it may predate pods started since.
LIST_WAIT_SECONDS = (0.25, 1.0)
LIST_WAIT_FACTOR = 4.0

Listing = dict[str, dict[str, nr.ContainerState]]  # node -> pod name -> container


class ContainerLister:
    def __init__(self, monitor: NodeMonitor) -> None:
        self._monitor = monitor
        self._listing: dict[str, asyncio.Future[list[nr.ContainerState]]] = {}  # node -> listing in flight
        self._list_seconds: dict[str, float] = {}  # node -> moving average of its listings' durations

    async def list_all(self) -> tuple[Listing, set[str]]:
        """Containers of every reachable node that answers in time (see LIST_WAIT_SECONDS), and
        the reachable nodes that did not (late)."""
        asked: dict[str, asyncio.Future[list[nr.ContainerState]]] = {}
        late: set[str] = set()
        for name in list(self._monitor.nodes):
            client = self._monitor.client(name)
            if client is None or not self._monitor.reachable(name):
                continue
            if name in self._listing:  # an earlier pass's listing still waits for an answer
                late.add(name)
                continue
            listing: asyncio.Future[list[nr.ContainerState]] = asyncio.ensure_future(client.run(client.list_managed))
            self._listing[name] = asked[name] = listing
            listing.add_done_callback(functools.partial(self._listed, name, time.monotonic()))
        await self._wait_listings(asked)
        out: Listing = {}
        for name, listing in asked.items():
            if not listing.done():
                late.add(name)
                log.warning("node_list_slow", node=name, waited=round(self._list_wait(name), 2))
                continue
            error = listing.exception()
            if isinstance(error, nr.NodeBusy):
                # Not sent: the node's calls are all taken (a burst of starts). It is as slow to
                # list as a late node: its pods stay as they are (they were made Unknown, and a pod
                # not yet created was then recorded failed as if its container had been removed).
                late.add(name)
                log.info("node_list_busy", node=name, error=error.detail)
            elif isinstance(error, nr.NodeUnavailable):
                log.warning("node_list_failed", node=name, error=error.detail)
            elif error is not None:
                raise error
            else:
                out[name] = {c.pod: c for c in listing.result()}
        return out, late

    def _list_wait(self, name: str) -> float:
        low, high = LIST_WAIT_SECONDS
        return min(high, max(low, LIST_WAIT_FACTOR * self._list_seconds.get(name, high)))

    async def _wait_listings(self, asked: dict[str, asyncio.Future[list[nr.ContainerState]]]) -> None:
        """Until every listing is in or past its node's own wait."""
        start = time.monotonic()
        pending = dict(asked)
        while pending:
            waits = {name: self._list_wait(name) - (time.monotonic() - start) for name in pending}
            if min(waits.values()) <= 0:
                pending = {n: f for n, f in pending.items() if waits[n] > 0}
                continue
            await asyncio.wait(pending.values(), timeout=min(waits.values()), return_when=asyncio.FIRST_COMPLETED)
            pending = {n: f for n, f in pending.items() if not f.done()}

    def _listed(self, name: str, started: float, listing: asyncio.Future[list[nr.ContainerState]]) -> None:
        self._listing.pop(name, None)
        if listing.cancelled():
            return
        if listing.exception() is None:  # a failure was seen as lateness or a failed listing already
            took = time.monotonic() - started
            self._list_seconds[name] = 0.8 * self._list_seconds.get(name, took) + 0.2 * took
