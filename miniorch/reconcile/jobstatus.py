"""A Job's status: the Kubernetes field names, and its round trip through the store.

Pure values; `status_to_dict` gives what `ctl get job -o json` shows under `.status`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from miniorch.reconcile.conditions import Condition, has_condition
from miniorch.spec.enums import ConditionType


@dataclass(frozen=True)
class JobStatus:
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    ready: int = 0
    terminating: int = 0
    start_time: dt.datetime | None = None
    completion_time: dt.datetime | None = None
    conditions: tuple[Condition, ...] = ()
    completed_indexes: str | None = None
    failed_indexes: str | None = None

    @property
    def finished(self) -> bool:
        return has_condition(self.conditions, ConditionType.COMPLETE) or has_condition(
            self.conditions, ConditionType.FAILED
        )

    @property
    def finish_time(self) -> dt.datetime | None:
        for cond in self.conditions:
            if cond.type in (ConditionType.COMPLETE, ConditionType.FAILED) and cond.status == "True":
                return cond.last_transition_time
        return None


def _ts(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _parse_ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC) if value else None


def status_to_dict(status: JobStatus) -> dict[str, object]:
    """The Kubernetes shape of a Job's status (field names as batch/v1)."""
    out: dict[str, object] = {
        "active": status.active,
        "succeeded": status.succeeded,
        "failed": status.failed,
        "ready": status.ready,
        "terminating": status.terminating,
    }
    if status.start_time:
        out["startTime"] = _ts(status.start_time)
    if status.completion_time:
        out["completionTime"] = _ts(status.completion_time)
    if status.conditions:
        out["conditions"] = [c.to_dict() for c in status.conditions]
    if status.completed_indexes is not None:
        out["completedIndexes"] = status.completed_indexes
    if status.failed_indexes is not None:
        out["failedIndexes"] = status.failed_indexes
    return out


def status_from_dict(data: Mapping[str, object]) -> JobStatus:
    conds = data.get("conditions") or []
    assert isinstance(conds, list)
    return JobStatus(
        active=int(str(data.get("active", 0))),
        succeeded=int(str(data.get("succeeded", 0))),
        failed=int(str(data.get("failed", 0))),
        ready=int(str(data.get("ready", 0))),
        terminating=int(str(data.get("terminating", 0))),
        start_time=_parse_ts(data.get("startTime")),  # type: ignore[arg-type]
        completion_time=_parse_ts(data.get("completionTime")),  # type: ignore[arg-type]
        conditions=tuple(Condition.from_dict(c) for c in conds),
        completed_indexes=data.get("completedIndexes"),  # type: ignore[arg-type]
        failed_indexes=data.get("failedIndexes"),  # type: ignore[arg-type]
    )
