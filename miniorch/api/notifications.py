"""`GET /api/notifications`: the pending and failed deliveries of failure notifications (DESIGN 12).

Private to `ctl get notifications`: each item names its receiver, the fact (object, reason),
its attempts, next attempt and last error; never a receiver's URL or headers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter

from miniorch.api.context import StoreDep
from miniorch.store import notifications as nq

router = APIRouter(prefix="/api/notifications")


def _time(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def item(delivery: nq.DeliveryRecord, fact: nq.FactRecord) -> dict[str, Any]:
    """One delivery as `ctl get notifications -o json` shows it."""
    return {
        "id": delivery.id,
        "receiver": delivery.receiver,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "nextAttempt": _time(delivery.next_attempt_at) if delivery.state == nq.PENDING else None,
        "lastError": delivery.last_error,
        "queued": _time(delivery.created_at),
        "fact": {
            "event": fact.type,
            "kind": fact.kind,
            "namespace": fact.namespace or None,
            "name": fact.name,
            "reason": fact.reason,
            "message": fact.message,
            "node": fact.node,
            "time": _time(fact.occurred_at),
        },
    }


@router.get("")
def list_notifications(store: StoreDep, all: bool = False) -> dict[str, Any]:
    """Pending and failed deliveries, oldest first (`all=true`: delivered ones too)."""
    states = (nq.PENDING, nq.FAILED, nq.DELIVERED) if all else (nq.PENDING, nq.FAILED)
    rows = store.notifications.listing(states)
    return {"apiVersion": "v1", "kind": "List", "items": [item(d, f) for d, f in rows]}
