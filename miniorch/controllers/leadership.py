"""Leadership among daemons sharing one database (DESIGN 8): wait for the lease, keep it, fence on loss.

A standby asks for the lease every heartbeat. The leader renews it every third of
`ha.lease_seconds` from its own thread, and counts it valid only until the local
monotonic time of its last successful renewal's start plus the lease, less a margin:
a leader that cannot renew (database gone, process frozen by SIGSTOP, a hung call)
stops acting before a standby can take over. A guard thread checks that every 50 ms
and calls `on_lost` (the daemon re-executes itself as a standby) the moment it lapses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable

import structlog

from miniorch import supervise
from miniorch.controllers.storeio import store_io
from miniorch.store.lease import Leases, LeaseState, LeaseUnavailable

log = structlog.get_logger(__name__)

GUARD_INTERVAL = 0.05


@dataclasses.dataclass(frozen=True)
class Role:
    """What `ctl version` and the API say about this daemon."""

    leading: bool
    name: str
    leader: str | None  # the leader's name, None while nobody leads
    leader_address: str | None

    @property
    def word(self) -> str:
        return "leader" if self.leading else "standby"


class Leadership:
    """One daemon's part in the election; `acting()` is the fence every action checks."""

    def __init__(
        self,
        leases: Leases,
        name: str,
        address: str,
        lease_seconds: float,
        poll_seconds: float,
        on_lost: Callable[[str], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leases = leases
        self.name = name
        self.address = address
        self._seconds = lease_seconds
        self._poll = poll_seconds
        self._on_lost = on_lost
        self._monotonic = monotonic
        # Stop acting this much before the lease could expire in the database.
        self._margin = max(min(lease_seconds / 5, 2.0), 0.2)
        self._epoch = 0
        self._valid_until = 0.0
        self._seen: LeaseState | None = None
        self._stop = threading.Event()
        self._lost = False

    # -- the fence ----------------------------------------------------------------
    def acting(self) -> bool:
        """True while this daemon leads and its lease is certainly still its own."""
        return self._epoch > 0 and not self._lost and self._monotonic() < self._valid_until

    @property
    def lost(self) -> bool:
        """The lease was ours and lapsed: from here on nothing is written (the store's fence) until the step-down."""
        return self._lost

    def role(self) -> Role:
        if self.acting():
            return Role(True, self.name, self.name, self.address)
        seen = self._seen
        return Role(False, self.name, seen.holder if seen else None, seen.address if seen else None)

    @property
    def epoch(self) -> int:
        return self._epoch

    # -- standby: wait for the lease ------------------------------------------------
    def try_acquire(self) -> bool:
        """One attempt (blocking, a short transaction); True when this daemon now leads."""
        started = self._monotonic()
        state = self._leases.acquire(self.name, self.address, self._seconds)
        if state is None:
            return False
        self._seen = state
        if state.mine:
            self._epoch = state.epoch
            self._valid_until = started + self._seconds - self._margin
            log.info("leadership_acquired", name=self.name, epoch=state.epoch, lease_seconds=self._seconds)
        return state.mine

    async def wait_until_leading(self) -> None:
        while True:
            try:
                if await store_io(self.try_acquire):
                    return
            except LeaseUnavailable as exc:  # the database is down or slow: a standby just asks again
                log.warning("lease_unavailable", name=self.name, error=str(exc))
            await asyncio.sleep(self._poll)

    # -- leader: keep it --------------------------------------------------------------
    def start(self) -> None:
        """Renew from one thread, guard the fence from another (neither waits on the event loop)."""
        supervise.start_thread(self._renew_loop, "lease-renew")
        supervise.start_thread(self._guard_loop, "lease-guard")

    def renew_once(self) -> None:
        started = self._monotonic()
        try:
            state = self._leases.renew(self.name, self._epoch, self._seconds)
        except LeaseUnavailable as exc:  # cannot renew: the guard steps down when the lease's time is up
            log.warning("lease_renew_failed", name=self.name, epoch=self._epoch, error=str(exc))
            return
        if state is None:
            self._lose("the lease is no longer ours (expired and taken over, or released)")
            return
        self._valid_until = started + self._seconds - self._margin

    def _renew_loop(self) -> str:
        while not self._stop.wait(self._seconds / 3) and not self._lost:
            self.renew_once()
        return self._ended()

    def check(self) -> None:
        """The guard's test: once the lease's time is up without a renewal, this daemon stops."""
        if not self._lost and self._epoch > 0 and self._monotonic() >= self._valid_until:
            self._lose("the lease was not renewed in time (database unreachable, or this process was frozen)")

    def _guard_loop(self) -> str:
        while not self._stop.wait(GUARD_INTERVAL) and not self._lost:
            self.check()
        return self._ended()

    def _ended(self) -> str:
        """Why a lease thread ends (its `thread_ended` fact)."""
        return "leadership lost" if self._lost else "lease released"

    def _lose(self, why: str) -> None:
        if self._lost:
            return
        self._lost = True
        log.error("leadership_lost", name=self.name, epoch=self._epoch, reason=why)
        self._on_lost(why)

    def release(self) -> None:
        """Clean shutdown: hand the lease back so a standby takes over at once."""
        self._stop.set()
        if self.acting():
            try:
                self._leases.release(self.name, self._epoch)
                log.info("leadership_released", name=self.name, epoch=self._epoch)
            except LeaseUnavailable as exc:
                log.warning("lease_release_failed", name=self.name, error=str(exc))
        self._epoch = 0


class AlwaysLeader:
    """Without `ha.enabled`: the one daemon always acts."""

    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self.address = address

    def acting(self) -> bool:
        return True

    def role(self) -> Role:
        return Role(True, self.name, self.name, self.address)
