"""Riding out a database that stops answering: a loop's pass fails with StoreUnavailable, waits, retries.

Each controller loop keeps one `Outage`: the first failure logs `database_unavailable` (a
warning), retries back off from 1 s to 10 s, and the first pass that works again logs
`database_available` with how long it lasted. Running containers are not touched meanwhile;
what could not be recorded is seen again by the next pass (the loops are level-triggered).
"""

from __future__ import annotations

import time

import structlog

from miniorch.store.errors import StoreUnavailable

log = structlog.get_logger(__name__)

FIRST_WAIT = 1.0
MAX_WAIT = 10.0


class Outage:
    """The database's state as one loop saw it."""

    def __init__(self, loop: str) -> None:
        self._loop = loop
        self._since: float | None = None
        self._wait = FIRST_WAIT

    def failed(self, exc: StoreUnavailable) -> float:
        """A pass failed: seconds to wait before the next try."""
        if self._since is None:
            self._since = time.monotonic()
            log.warning("database_unavailable", loop=self._loop, error=str(exc))
        else:
            log.debug("database_still_unavailable", loop=self._loop, error=str(exc))
        wait, self._wait = self._wait, min(self._wait * 2, MAX_WAIT)
        return wait

    def worked(self) -> None:
        if self._since is not None:
            log.info("database_available", loop=self._loop, after_seconds=round(time.monotonic() - self._since, 1))
            self._since, self._wait = None, FIRST_WAIT
