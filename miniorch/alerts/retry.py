"""Pure: what to do after a delivery attempt (delivered, retry at a time, or give up), and why.

Retries back off exponentially (2 s doubling, capped at 10 min) for at least `RETRY_FOR`
(24 h) after the fact was queued; then the delivery is failed. A 4xx answer other than
408/425/429 is permanent (the receiver refuses this body or this URL): failed at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

INITIAL_SECONDS = 2.0
MAX_SECONDS = 600.0
RETRY_FOR = dt.timedelta(hours=24)
_TEMPORARY_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Delivered:
    pass


@dataclass(frozen=True)
class Retry:
    at: dt.datetime
    error: str


@dataclass(frozen=True)
class GiveUp:
    error: str


Outcome = Delivered | Retry | GiveUp


def delay_seconds(attempts: int, initial: float = INITIAL_SECONDS, cap: float = MAX_SECONDS) -> float:
    """The wait after the `attempts`-th failed attempt: initial * 2^(attempts-1), capped."""
    return float(min(cap, initial * 2.0 ** max(0, attempts - 1)))


def decide(
    status: int | None, error: str, attempts: int, queued_at: dt.datetime, now: dt.datetime, retry_after: float = 0
) -> Outcome:
    """After attempt number `attempts` answered `status` (None: no answer, `error` says why)."""
    if status is not None and 200 <= status < 300:
        return Delivered()
    why = error if status is None else f"HTTP {status}{': ' + error if error else ''}"
    if status is not None and 400 <= status < 500 and status not in _TEMPORARY_4XX:
        return GiveUp(f"{why} (the receiver refused it; not retried)")
    if now - queued_at >= RETRY_FOR:
        return GiveUp(f"{why} (retried for {RETRY_FOR.total_seconds() / 3600:.0f} h, {attempts} attempts)")
    wait = max(delay_seconds(attempts), min(retry_after, MAX_SECONDS))
    return Retry(now + dt.timedelta(seconds=wait), why)
