"""A leader acts only while its lease is certainly its own: it stops before the lease can expire
when renewals fail, at once when it was frozen past it, and when another daemon took over."""

from __future__ import annotations

import datetime as dt

from miniorch.controllers.leadership import Leadership
from miniorch.store.lease import LeaseState, LeaseUnavailable

T = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


class FakeLeases:
    def __init__(self) -> None:
        self.holder: str | None = None
        self.epoch = 0
        self.down = False

    def acquire(self, holder: str, address: str, seconds: float) -> LeaseState | None:
        if self.down:
            raise LeaseUnavailable("connection refused")
        if self.holder in (None, holder):
            if self.holder is None:
                self.epoch += 1
            self.holder = holder
            return LeaseState(holder, address, self.epoch, T, True)
        return LeaseState(self.holder, f"{self.holder}:7390", self.epoch, T, False)

    def renew(self, holder: str, epoch: int, seconds: float) -> LeaseState | None:
        if self.down:
            raise LeaseUnavailable("connection refused")
        return LeaseState(holder, "", epoch, T, True) if (self.holder, self.epoch) == (holder, epoch) else None

    def release(self, holder: str, epoch: int) -> None:
        self.holder = None


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def leader(leases: FakeLeases, clock: Clock, lost: list[str], name: str = "a") -> Leadership:
    return Leadership(
        leases,  # type: ignore[arg-type]
        name,
        f"{name}:7390",
        lease_seconds=10,
        poll_seconds=0.5,
        on_lost=lost.append,
        monotonic=clock,
    )


def test_a_daemon_that_took_the_lease_acts_and_says_leader() -> None:
    clock, lost = Clock(), list[str]()
    a = leader(FakeLeases(), clock, lost)
    assert not a.acting() and a.role().word == "standby"
    assert a.try_acquire()
    assert a.acting() and a.role().word == "leader" and a.epoch == 1


def test_a_standby_knows_who_leads() -> None:
    leases, clock = FakeLeases(), Clock()
    assert leader(leases, clock, []).try_acquire()
    b = leader(leases, clock, [], name="b")
    assert not b.try_acquire()
    role = b.role()
    assert (role.word, role.leader, role.leader_address) == ("standby", "a", "a:7390")


def test_renewals_that_fail_stop_the_leader_before_its_lease_can_expire() -> None:
    leases, clock, lost = FakeLeases(), Clock(), list[str]()
    a = leader(leases, clock, lost)
    a.try_acquire()
    leases.down = True
    for _ in range(2):  # renewals every lease/3, both failing
        clock.t += 10 / 3
        a.renew_once()
        a.check()
    assert a.acting() and lost == []  # 6.7 s after the last renewal: the lease is still surely ours
    clock.t = 100 + 10 - 2  # the lease less its margin (2 s): this daemon must stop now
    assert not a.acting()
    a.check()
    assert len(lost) == 1 and "not renewed in time" in lost[0]


def test_a_leader_frozen_past_its_lease_acts_on_nothing_when_it_wakes() -> None:
    leases, clock, lost = FakeLeases(), Clock(), list[str]()
    a = leader(leases, clock, lost)
    a.try_acquire()
    clock.t += 30  # SIGSTOP ... SIGCONT: the monotonic clock kept going
    assert not a.acting()  # the fence holds even before the guard thread runs again
    a.check()
    assert lost and not a.acting()


def test_a_leader_whose_lease_was_taken_over_steps_down_at_its_next_renewal() -> None:
    leases, clock, lost = FakeLeases(), Clock(), list[str]()
    a = leader(leases, clock, lost)
    a.try_acquire()
    leases.holder, leases.epoch = "b", 2  # expired and taken while this daemon could not see it
    a.renew_once()
    assert not a.acting() and "no longer ours" in lost[0]


def test_successful_renewals_keep_a_leader_acting_indefinitely() -> None:
    leases, clock, lost = FakeLeases(), Clock(), list[str]()
    a = leader(leases, clock, lost)
    a.try_acquire()
    for _ in range(20):
        clock.t += 10 / 3
        a.renew_once()
        a.check()
    assert a.acting() and lost == []


def test_release_hands_the_lease_back() -> None:
    leases, clock = FakeLeases(), Clock()
    a = leader(leases, clock, [])
    a.try_acquire()
    a.release()
    assert leases.holder is None and not a.acting()
