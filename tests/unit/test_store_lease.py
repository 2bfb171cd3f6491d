"""The leader lease: one holder at a time, taken over only once expired (with a new epoch),
renewed only by its holder, handed back at once; on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from miniorch.store.lease import Leases
from miniorch.store.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def leases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Leases]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database()
    else:
        url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store(url)
    yield store.leases
    store.close()


def test_the_first_daemon_takes_the_free_lease_and_others_see_it(leases: Leases) -> None:
    a = leases.acquire("a", "host-a:7390", 5)
    assert a is not None and a.mine and a.epoch == 1
    b = leases.acquire("b", "host-b:7390", 5)
    assert b is not None and not b.mine and (b.holder, b.address, b.epoch) == ("a", "host-a:7390", 1)
    current = leases.current()
    assert current is not None and current.holder == "a"


def test_an_expired_lease_is_taken_over_with_a_new_epoch_and_the_old_holder_cannot_renew(leases: Leases) -> None:
    a = leases.acquire("a", "host-a", 0.3)
    assert a is not None and a.mine
    time.sleep(0.4)
    b = leases.acquire("b", "host-b", 5)
    assert b is not None and b.mine and b.epoch == 2
    assert leases.renew("a", a.epoch, 5) is None  # woke up after its lease: fenced off
    again = leases.acquire("a", "host-a", 5)
    assert again is not None and not again.mine and again.holder == "b"


def test_the_holder_renews_without_changing_epoch(leases: Leases) -> None:
    a = leases.acquire("a", "host-a", 0.5)
    assert a is not None
    for _ in range(3):
        time.sleep(0.2)
        renewed = leases.renew("a", a.epoch, 0.5)
        assert renewed is not None and renewed.epoch == a.epoch and renewed.expires_at > a.expires_at
    b = leases.acquire("b", "host-b", 5)
    assert b is not None and not b.mine


def test_a_released_lease_is_free_at_once(leases: Leases) -> None:
    a = leases.acquire("a", "host-a", 60)
    assert a is not None
    leases.release("a", a.epoch)
    b = leases.acquire("b", "host-b", 60)
    assert b is not None and b.mine and b.epoch == 2


def test_daemons_racing_for_a_free_lease_end_with_exactly_one_holder(leases: Leases) -> None:
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def race(name: str) -> None:
        barrier.wait()
        results.append(leases.acquire(name, name, 30))

    threads = [threading.Thread(target=race, args=(f"d{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r.holder for r in results if r is not None and r.mine]
    assert len(winners) == 1
    current = leases.current()
    assert current is not None and current.holder == winners[0]
