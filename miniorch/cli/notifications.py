"""`ctl get notifications`: pending and failed deliveries of failure notifications (DESIGN 12).

Not a Kubernetes kind: a private route (`/api/notifications`) and a table of its own, with
RECEIVER, EVENT, OBJECT, STATE, ATTEMPTS, NEXT ATTEMPT, LAST ERROR; `-o json|yaml` print the List.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from miniorch.cli import output
from miniorch.cli.client import Client, CtlError

NAMES = ("notifications", "notification", "notify")
HEADERS = ["RECEIVER", "EVENT", "OBJECT", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "AGE", "LAST ERROR"]


def _object(fact: dict[str, Any]) -> str:
    where = f"{fact['namespace']}/" if fact.get("namespace") else ""
    return f"{str(fact['kind']).lower()}/{where}{fact['name']}"


def _next(value: str | None, now: dt.datetime) -> str:
    when = output.parse_ts(value)
    if when is None:
        return "-"
    seconds = (when - now).total_seconds()
    return "now" if seconds <= 0 else "in " + output.human_duration(seconds)


def row(item: dict[str, Any], now: dt.datetime) -> list[str]:
    fact = item["fact"]
    error = (item.get("lastError") or "-").replace("\n", " ")
    return [
        item["receiver"],
        fact["event"],
        _object(fact),
        item["state"],
        str(item["attempts"]),
        _next(item.get("nextAttempt"), now),
        output.age(item.get("queued"), now),
        error[:80],
    ]


def render(items: list[dict[str, Any]], fmt: str | None, now: dt.datetime) -> str:
    if fmt in ("json", "yaml"):
        return output.render("Event", items, fmt, now)  # a v1 List; the kind only names table printers
    if fmt not in (None, "", "wide"):
        raise CtlError(
            f'unable to match a printer suitable for the output format "{fmt}" for notifications; use json or yaml'
        )
    if not items:
        return ""
    return output.table(HEADERS, [row(i, now) for i in items])


def show(c: Client, fmt: str | None, everything: bool = False) -> str:
    """The text `ctl get notifications` prints ("No resources found." when the queue is empty)."""
    answer = c.request("GET", "/api/notifications", params={"all": "true"} if everything else None)
    text = render(list(answer["items"]), fmt, dt.datetime.now(dt.UTC))
    return text or "No pending or failed notifications."
