"""Kubernetes-style status conditions as immutable tuples.

A condition's lastTransitionTime only moves when its status changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str
    last_transition_time: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        ts = self.last_transition_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastProbeTime": ts,
            "lastTransitionTime": ts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Condition:
        ts = dt.datetime.strptime(data["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        return cls(data["type"], data["status"], data.get("reason", ""), data.get("message", ""), ts)


def has_condition(conditions: Sequence[Condition], type_: str) -> bool:
    return any(c.type == type_ and c.status == "True" for c in conditions)


def set_condition(
    conditions: tuple[Condition, ...], type_: str, reason: str, message: str, now: dt.datetime, status: str = "True"
) -> tuple[Condition, ...]:
    for i, cond in enumerate(conditions):
        if cond.type == type_:
            moved = cond.last_transition_time if cond.status == status else now
            updated = dataclasses.replace(
                cond, status=status, reason=reason, message=message, last_transition_time=moved
            )
            return conditions[:i] + (updated,) + conditions[i + 1 :]
    return conditions + (Condition(type_, status, reason, message, now),)
