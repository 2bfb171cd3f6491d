"""Each kind's status rules over plain dicts: is it finished, its STATUS word, its metrics state.

`outcome` reads a stored status (the `status` of an object record or of a served
object); the summaries read a served object (`ctl get`'s STATUS column). No
pydantic here: `ctl` and the metrics scrape call these on JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def true_conditions(status: Mapping[str, Any]) -> list[str]:
    """The types of the conditions whose status is "True", in the order they were added."""
    return [str(c.get("type")) for c in status.get("conditions") or [] if c.get("status") == "True"]


def never(status: Mapping[str, Any]) -> str | None:
    """The outcome of a kind that runs until deleted (CronJob, DaemonSet, Node, Event)."""
    return None


def job_outcome(status: Mapping[str, Any]) -> str | None:
    """A Job's outcome: Complete or Failed once it has that condition, else None (still running)."""
    return next((t for t in true_conditions(status) if t in ("Complete", "Failed")), None)


def pod_outcome(status: Mapping[str, Any]) -> str | None:
    """A pod's outcome: its phase once terminal (Succeeded or Failed), else None."""
    phase = status.get("phase")
    return str(phase) if phase in ("Succeeded", "Failed") else None


#: Job conditions in the order `ctl get jobs` picks its STATUS word (kubectl's).
JOB_STATUS_ORDER = ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended")


def job_status(job: Mapping[str, Any]) -> str:
    """A served Job's STATUS column: Terminating, its first condition of JOB_STATUS_ORDER, or Running."""
    if job["metadata"].get("deletionTimestamp"):
        return "Terminating"
    true = set(true_conditions(job.get("status") or {}))
    return next((c for c in JOB_STATUS_ORDER if c in true), "Running")


def pod_status(pod: Mapping[str, Any]) -> str:
    """A served pod's STATUS column: its container's state reason, else its phase (kubectl's)."""
    status = pod.get("status", {})
    cs = (status.get("containerStatuses") or [{}])[0]
    state = cs.get("state", {})
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    if "terminated" in state:
        return str(state["terminated"].get("reason") or status.get("phase", ""))
    if "waiting" in state:
        return str(state["waiting"].get("reason") or "Pending")
    if status.get("phase") == "Unknown":
        return "Unknown"
    return str(status.get("phase", ""))


def node_status(node: Mapping[str, Any]) -> str:
    """A served node's STATUS column: Ready or NotReady, with SchedulingDisabled when cordoned."""
    ready: dict[str, Any] = next((c for c in node["status"]["conditions"] if c["type"] == "Ready"), {})
    text = "Ready" if ready.get("status") == "True" else "NotReady"
    return text + (",SchedulingDisabled" if node.get("spec", {}).get("unschedulable") else "")


def workload_state(outcome: str | None, manifest: Mapping[str, Any]) -> str:
    """The metrics state of a stored object: its outcome (lower case), else suspended or active."""
    if outcome is not None:
        return outcome.lower()
    return "suspended" if (manifest.get("spec") or {}).get("suspend") else "active"


def immutable_data(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """ConfigMap/Secret rules on update (Kubernetes'): `immutable: true` fixes the data and itself;
    a Secret's `type` never changes. The reason names the field, never a value."""
    if old.get("kind") == "Secret" and old.get("type", "Opaque") != new.get("type", "Opaque"):
        return "type: Invalid value: field is immutable"
    if not old.get("immutable"):
        return None
    if not new.get("immutable"):
        return "immutable: Forbidden: field is immutable when `immutable` is set"
    for field in ("data", "binaryData"):
        if (old.get(field) or {}) != (new.get(field) or {}):
            return f"{field}: Forbidden: field is immutable when `immutable` is set"
    return None
